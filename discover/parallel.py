"""Where parallel work runs: this process, local worker processes (joblib's loky), or a Dask cluster.

Every heavy verb (featurize, probe, compare, the activation features, the search's stages, the studies) sends its work
through ``parallel_imap``. Inside ``with engine(scheduler=ADDRESS):`` (or ``backend="dask"``, which starts a local
cluster) the same calls go to the Dask cluster instead of local processes: small, pure tasks (an architecture id and
its benchmark's configs, never a model) go out, values come back, and this process - the client - writes every cache,
values file and run folder, so nothing depends on a disk the workers share. A worker that dies mid-run has its tasks
run again elsewhere by Dask; a scheduler that goes away is one clear error, and a rerun continues from the
per-architecture caches.

Work is always split in the main process and results come back in submission order, so the output never depends on
the number of workers or on where they ran. Linear algebra runs single-threaded inside each task for the same reason:
LAPACK's results can differ in the last bits with the thread count.

A worker process whose parent (the process that started it) is gone - killed with ``kill -9``, say - stops within a
second (``watch_parent``), so no orphan goes on computing or writing.
"""
from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import joblib
import torch
from tqdm.auto import tqdm

from .errors import ConfigError, ZcDiscoverError

log = logging.getLogger(__name__)
BACKENDS = ("loky", "dask")
ENV_SCHEDULER = "ZC_DISCOVER_SCHEDULER"
CONNECT_TIMEOUT = 5.0          # seconds to reach a scheduler before saying it is unreachable
TASK_RETRIES = 2               # a task that raised on a worker is tried again (a lost worker's tasks always are)
ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/:]+(:\d{1,5})?/?$|^[A-Za-z0-9.\-]+:\d{1,5}$")


@dataclass(frozen=True)
class Engine:
    """A Dask cluster the parallel work of this block goes to (``client``), and whether this block started it."""
    client: Any
    address: str
    local_cluster: Any = None


_ENGINE: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("zc_discover_engine", default=None)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def exit_if_orphaned(owner_pid: int | None) -> None:
    """Stop a worker whose owner (the process that asked for its work) has died: a search killed with ``kill -9``
    must not leave workers writing into its run folder."""
    if owner_pid is not None and owner_pid != os.getpid() and not process_alive(owner_pid):
        os._exit(3)


_watched: set[int] = set()


def watch_parent(parent_pid: int | None = None, interval: float = 0.5) -> None:
    """In a worker process: a daemon thread that ends the process as soon as its parent is gone (``kill -9`` of the
    main process leaves no orphan computing on; loky would otherwise keep its workers until their idle timeout).
    Started once per process; a no-op in the main process."""
    parent = os.getppid() if parent_pid is None else parent_pid
    if parent in _watched or parent <= 1 or parent == os.getpid():
        return
    _watched.add(parent)
    adopted_by = os.getppid()   # a worker whose parent dies is re-parented: that, or the owner gone, ends it

    def watch() -> None:
        while True:
            if os.getppid() != adopted_by or not process_alive(parent):
                os._exit(3)
            time.sleep(interval)
    threading.Thread(target=watch, name="zc-discover-parent-watch", daemon=True).start()


def resolve_jobs(n_jobs: int | None) -> int:
    """Local workers for ``n_jobs``: -1 or None is every core; more than the machine's cores is capped to them,
    with a warning (more processes than cores only adds memory and start-up time)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == -1:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"jobs must be a positive integer or -1 (every core), got {n_jobs!r}")
    if n_jobs > cores:
        log.warning("--jobs %d is more than this machine's %d cores; using %d", n_jobs, cores, cores)
        return cores
    return n_jobs


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with torch limited to one thread (results then do not depend on the thread count)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _release_freed_memory() -> None:
    """Hand the memory a finished task freed back to the operating system.

    glibc keeps freed heap memory for reuse, so after probing one large model a worker's resident size stays high, and
    loky takes growth of 300 MB over a worker's first task for a leak: it restarts the worker, which re-imports torch.
    Over 40 FlexiBERT probes a worker's resident size ranged 732-919 MB untrimmed, 408-432 MB trimmed."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:   # not glibc (macOS, Windows, musl): nothing to trim
        return None


_LIBC = _load_libc()


def _run_single_threaded(function: Callable, args: tuple) -> Any:
    with single_threaded():
        try:
            return function(*args)
        finally:
            _release_freed_memory()


def check_scheduler_address(address: str) -> str:
    """A Dask scheduler address, checked for its form (``tcp://host:port``, ``host:port``) before any connection."""
    if not isinstance(address, str) or not ADDRESS.match(address.strip()):
        raise ConfigError(f"--scheduler {address!r} is not a Dask scheduler address; give tcp://HOST:PORT (what "
                          "'dask scheduler' prints), or leave it out to run on this machine")
    return address.strip()


def connect(address: str | None, n_jobs: int | None = None) -> Engine:
    """A client of the scheduler at ``address`` (reached within ``CONNECT_TIMEOUT`` seconds), or of a local cluster
    of ``n_jobs`` single-threaded worker processes when ``address`` is None."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("running on Dask needs dask.distributed: pip install 'zc-discover[dask]'") from None
    if address is None:
        cluster = LocalCluster(n_workers=resolve_jobs(n_jobs), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        return Engine(client, cluster.scheduler_address, cluster)
    address = check_scheduler_address(address)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"no Dask scheduler answers at {address} within {CONNECT_TIMEOUT:g} s "
                          f"({type(error).__name__}); start one ('dask scheduler') or check the address") from None
    return Engine(client, address)


@contextlib.contextmanager
def engine(backend: str = "loky", scheduler: str | None = None, n_jobs: int | None = None) -> Iterator[Engine | None]:
    """Send the parallel work of the block to a Dask cluster.

    Parameters
    ----------
    backend : {"loky", "dask"}
        ``loky``: local processes, unless a scheduler is named; ``dask`` without an address: a local cluster.
    scheduler : str, optional
        A Dask scheduler address (``tcp://HOST:PORT``); default ``$ZC_DISCOVER_SCHEDULER``.
    n_jobs : int, optional
        Workers of a local cluster (-1 or None: every core).

    Returns
    -------
    contextlib.AbstractContextManager
        Yields the ``Engine`` (or None when work stays on local processes). An engine already active is kept:
        nested calls share it.

    Examples
    --------
    >>> with engine(scheduler="tcp://10.0.0.5:8786"):         # doctest: +SKIP
    ...     compare("lts-gpt2-wt103", ["snip", "params"])
    """
    if backend not in BACKENDS:
        from .errors import UnknownNameError
        raise UnknownNameError("backend", backend, BACKENDS)
    scheduler = scheduler or os.environ.get(ENV_SCHEDULER) or None
    if _ENGINE.get() is not None or (backend == "loky" and scheduler is None):
        yield _ENGINE.get()
        return
    active = connect(scheduler, n_jobs)
    token = _ENGINE.set(active)
    try:
        active.client.run(torch.set_num_threads, 1)
        yield active
    finally:
        _ENGINE.reset(token)
        active.client.close()
        if active.local_cluster is not None:
            active.local_cluster.close()


def active_engine() -> Engine | None:
    """The Dask engine of the enclosing ``engine`` block, if any."""
    return _ENGINE.get()


def _dask_imap(active: Engine, function: Callable, argument_tuples: list[tuple]) -> Iterator[Any]:
    """The tasks on the cluster, yielded in submission order. Arguments shared by every task (the benchmark, say) are
    sent to the workers once."""
    from dask.distributed import as_completed
    from distributed.comm.core import CommClosedError
    client = active.client
    shared: dict[int, Any] = {}
    if len(argument_tuples) > 1:
        first = argument_tuples[0]
        for index, value in enumerate(first):
            if all(len(t) > index and t[index] is value for t in argument_tuples) and \
                    not isinstance(value, (int, float, str, bool, type(None))):
                shared[index] = client.scatter(value, broadcast=True, hash=False)
    tasks = [tuple(shared.get(i, v) for i, v in enumerate(args)) for args in argument_tuples]
    try:
        futures = [client.submit(_run_single_threaded, function, args, pure=False, retries=TASK_RETRIES)
                   for args in tasks]
        done: dict[int, Any] = {}
        index_of = {f.key: i for i, f in enumerate(futures)}
        following = 0
        for future in as_completed(futures):
            done[index_of[future.key]] = future.result()
            future.release()
            while following in done:
                yield done.pop(following)
                following += 1
    except (CommClosedError, OSError, TimeoutError) as error:
        raise ZcDiscoverError(f"the Dask scheduler at {active.address} went away ({type(error).__name__}); what was "
                              "computed is cached - run the command again to continue") from None


def parallel_imap(function: Callable, argument_tuples: Iterable[tuple], n_jobs: int = 1,
                  desc: str | None = None) -> Iterator[Any]:
    """``function(*args)`` for each argument tuple, yielded in order as they finish: on the active Dask engine, else
    on ``n_jobs`` local processes (in this process when 1), with a progress bar on a terminal - a caller can keep each
    result before the next arrives."""
    argument_tuples = list(argument_tuples)
    active = _ENGINE.get()
    if active is not None:
        yield from tqdm(_dask_imap(active, function, argument_tuples), total=len(argument_tuples), desc=desc,
                        disable=None, leave=False)
    elif n_jobs == 1 or len(argument_tuples) <= 1:
        yield from tqdm((_run_single_threaded(function, args) for args in argument_tuples),
                        total=len(argument_tuples), desc=desc, disable=None, leave=False)
    else:
        # every worker watches this process from the moment it starts (not from its first task: a kill -9 while
        # workers are still importing torch would orphan them otherwise)
        with joblib.parallel_config(backend="loky", initializer=watch_parent, initargs=(os.getpid(),)):
            tasks = (joblib.delayed(_run_single_threaded)(function, args) for args in argument_tuples)
            results = joblib.Parallel(n_jobs=resolve_jobs(n_jobs), return_as="generator")(tasks)
            yield from tqdm(results, total=len(argument_tuples), desc=desc, disable=None, leave=False)


def parallel_map(function: Callable, argument_tuples: Iterable[tuple], n_jobs: int = 1,
                 desc: str | None = None) -> list[Any]:
    """``[function(*args) for args in argument_tuples]`` in parallel, in order, with a progress bar on a terminal."""
    return list(parallel_imap(function, argument_tuples, n_jobs, desc))


__all__ = ["BACKENDS", "ENV_SCHEDULER", "Engine", "active_engine", "check_scheduler_address", "connect", "engine",
           "exit_if_orphaned", "parallel_imap", "parallel_map", "process_alive", "resolve_jobs", "single_threaded",
           "watch_parent"]
