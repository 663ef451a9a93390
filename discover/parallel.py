"""joblib dispatch shared by featurization and search: local processes (loky) or a Dask cluster.

Work is always split in the main process and results come back in submission order, so the output never depends on
the number of workers. Linear algebra runs single-threaded inside each task for the same reason: LAPACK's results
can differ in the last bits with the thread count.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import joblib
import torch
from tqdm.auto import tqdm

from .errors import ZcDiscoverError

BACKENDS = ("loky", "dask")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_if_orphaned(owner_pid: int | None) -> None:
    """Stop a worker whose owner (the process that asked for its work) has died: a search killed with ``kill -9``
    must not leave workers writing into its run folder."""
    if owner_pid is not None and owner_pid != os.getpid() and not process_alive(owner_pid):
        os._exit(3)


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


@contextlib.contextmanager
def backend(name: str = "loky", scheduler: str | None = None, n_jobs: int = 1) -> Iterator[None]:
    """Make ``name`` joblib's backend inside the block; ``dask`` connects to ``scheduler`` or starts a local cluster."""
    if name not in BACKENDS:
        from .errors import UnknownNameError
        raise UnknownNameError("backend", name, BACKENDS)
    if name == "loky":
        yield
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ZcDiscoverError("the dask backend needs dask.distributed: pip install 'zc-discover[dask]'") from None
    cluster = None
    if scheduler is None:
        workers = n_jobs if n_jobs and n_jobs > 0 else None
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client, joblib.parallel_config(backend="dask"):
            client.run(torch.set_num_threads, 1)
            yield
    finally:
        if cluster is not None:
            cluster.close()


def parallel_imap(function: Callable, argument_tuples: Iterable[tuple], n_jobs: int = 1, desc: str | None = None,
                  dask: bool = False) -> Iterator[Any]:
    """``function(*args)`` for each argument tuple, yielded in order as they finish (in parallel unless ``n_jobs``
    is 1), with a progress bar on a terminal: a caller can keep each result before the next arrives."""
    argument_tuples = list(argument_tuples)
    if n_jobs == 1 and not dask:
        results = (_run_single_threaded(function, args) for args in argument_tuples)
    else:
        tasks = (joblib.delayed(_run_single_threaded)(function, args) for args in argument_tuples)
        results = joblib.Parallel(n_jobs=n_jobs if not dask else -1, return_as="generator")(tasks)
    yield from tqdm(results, total=len(argument_tuples), desc=desc, disable=None, leave=False)


def parallel_map(function: Callable, argument_tuples: Iterable[tuple], n_jobs: int = 1, desc: str | None = None,
                 dask: bool = False) -> list[Any]:
    """``[function(*args) for args in argument_tuples]`` in parallel, in order, with a progress bar on a terminal."""
    return list(parallel_imap(function, argument_tuples, n_jobs, desc, dask))
