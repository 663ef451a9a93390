"""Run folders: what a search leaves behind, how it is written, locked, resumed and read back.

A run folder holds ``config.json`` (arguments, seed, versions, benchmark checksums), ``equations.csv`` (the best
formula at each complexity), ``metrics.json`` (held-out, per-fold, transfer and tie figures), ``logbook.csv``,
``stages/<stage>.json`` (each finished stage), ``checkpoints/<stage>.json`` (every generation), ``best_proxy.py``,
``best_proxy.tex`` and the figures ``front.png`` and ``heldout.png``. Everything is JSON, CSV or text: opening a run
folder never runs code from it. One process owns a folder at a time (``.lock``); files are written under temporary
names carrying the writer's pid and renamed into place.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ZcDiscoverError
from .formula import Formula
from .parallel import process_alive

log = logging.getLogger(__name__)
RUN_FILES = ("config.json", "equations.csv", "metrics.json", "logbook.csv", "best_proxy.py", "best_proxy.tex",
             "front.png", "heldout.png")
RUN_FOLDERS = ("stages", "checkpoints")
LOCK = ".lock"


class RunFolderError(ZcDiscoverError):
    """A run folder that cannot be used as asked: in use, damaged, not a run folder, or of another search."""


@dataclass
class Run:
    """A finished discovery: where it lives, its chosen formula, its metrics, its equations and its config."""

    path: Path
    formula: Formula
    metrics: dict[str, Any]
    equations: pd.DataFrame
    config: dict[str, Any]


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file named by this process, then renamed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON atomically (numpy numbers as numbers, NaN and infinities as null)."""
    write_text(path, json.dumps(finite_or_none(payload), indent=2, allow_nan=False) + "\n")


def finite_or_none(payload: Any) -> Any:
    """``payload`` with every non-finite float replaced by None (metrics are numbers or null, never strings)."""
    if isinstance(payload, dict):
        return {k: finite_or_none(v) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [finite_or_none(v) for v in payload]
    if hasattr(payload, "item") and not isinstance(payload, (str, bytes)):
        payload = payload.item()
    if isinstance(payload, float) and (payload != payload or abs(payload) == float("inf")):
        return None
    return payload


def read_json(path: Path, what: str) -> Any:
    """A JSON file of a run folder; a missing or damaged one is a ``RunFolderError`` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path.parent} has no {path.name} ({what}); it is not a finished run folder. Finish "
                             "it with 'zc-discover search ... --resume'.") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"{path} ({what}) is damaged ({type(exc).__name__}); restore it, or run the search "
                             "again with --force.") from None


class RunLock:
    """Exclusive ownership of a run folder by one process (``.lock`` holds its pid and host).

    A lock left by a process that no longer exists (on this host) is taken over with a warning."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK
        self.held = False

    def acquire(self) -> "RunLock":
        """Take the lock (or raise ``RunFolderError`` naming the process that holds it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner and owner.get("host") == me["host"] and process_alive(int(owner.get("pid", -1))) \
                        and owner.get("pid") != me["pid"]:
                    raise RunFolderError(f"run folder {self.path.parent} is in use by process {owner['pid']}; wait "
                                         "for it to finish (or stop it), then try again.") from None
                if owner and owner.get("host") not in (None, me["host"]):
                    raise RunFolderError(f"run folder {self.path.parent} is locked by process {owner.get('pid')} on "
                                         f"host {owner.get('host')}; if that search is over, delete "
                                         f"{self.path} and try again.") from None
                log.warning("run folder %s was locked by process %s, which is gone; taking it over",
                            self.path.parent, (owner or {}).get("pid", "?"))
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            self.held = True
            return self
        raise RunFolderError(f"could not lock run folder {self.path.parent}; another process keeps taking it")

    def _owner(self) -> dict | None:
        try:
            owner = json.loads(self.path.read_text())
            return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Give the lock back (only if this process holds it)."""
        if self.held:
            owner = self._owner()
            if owner and owner.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def check_output(path: Path, resume: bool, force: bool) -> None:
    """Refuse early (before any slow work) an output that cannot become this run's folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"-o {path} is a file, not a folder; choose a folder for the run.")
    if path.is_dir() and not (resume or force) and any(p.name != LOCK for p in path.iterdir()):
        raise RunFolderError(f"run folder {path} already exists. Continue it with --resume, or overwrite it "
                             "with --force.")


def prepare_folder(path: Path, config: dict[str, Any], resume: bool, force: bool) -> None:
    """Make ``path`` ready for a search described by ``config`` (the caller holds its lock).

    A folder with files is never overwritten without ``force``; ``resume`` continues it only if it was started with
    the same arguments."""
    check_output(path, resume, force)
    existing = path / "config.json"
    if path.exists() and any(p.name != LOCK for p in path.iterdir()):
        if force:
            for name in (*RUN_FILES, *RUN_FOLDERS):
                target = path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        elif resume:
            if not existing.is_file():
                raise RunFolderError(f"{path} has no config.json: it is not a zc-discover run folder to resume.")
            previous = read_json(existing, "the search's configuration")
            arguments = previous.get("arguments") if isinstance(previous, dict) else None
            if not isinstance(arguments, dict):
                raise RunFolderError(f"{existing} is not a zc-discover run configuration; start over with --force.")
            differ = sorted(k for k in set(arguments) | set(config["arguments"])
                            if arguments.get(k) != config["arguments"].get(k))
            if differ:
                raise RunFolderError(f"cannot resume {path}: its search was started with other arguments "
                                     f"({', '.join(differ)}). Use the same ones, or --force to start over.")
    elif resume:
        log.warning("nothing to resume in %s; starting a new search", path)
    path.mkdir(parents=True, exist_ok=True)
    for name in RUN_FOLDERS:
        (path / name).mkdir(exist_ok=True)
    if not existing.is_file() or force or not resume:
        write_json(existing, config)


def load_run(path: str | Path) -> Run:
    """A finished run folder written by a search (``ProxySearch.fit`` or ``zc-discover search``).

    Parameters
    ----------
    path : str or Path
        The run folder.

    Returns
    -------
    Run
        ``formula``, ``metrics``, ``equations`` and ``config`` of the run.

    Raises
    ------
    RunFolderError
        When a file is missing or damaged; the formula is read by the whitelist parser, never evaluated as code.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path} is not a folder; give the run folder a search wrote (-o RUN_DIR).")
    config = read_json(path / "config.json", "the search's configuration")
    metrics = read_json(path / "metrics.json", "the search's results")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("formula"), str) or not isinstance(
            metrics.get("features"), list) or not all(isinstance(f, str) for f in metrics["features"]):
        raise RunFolderError(f"{path / 'metrics.json'} lacks the formula and its features; run the search again.")
    try:
        equations = pd.read_csv(path / "equations.csv")
    except FileNotFoundError:
        raise RunFolderError(f"{path} has no equations.csv; finish it with 'zc-discover search ... --resume'.") \
            from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path / 'equations.csv'} is damaged ({type(exc).__name__}).") from None
    try:
        formula = Formula.from_string(metrics["formula"], metrics["features"])
    except ZcDiscoverError as exc:
        raise RunFolderError(f"{path / 'metrics.json'} holds a formula that is refused: {exc}") from None
    return Run(path, formula, metrics, equations, config if isinstance(config, dict) else {})
