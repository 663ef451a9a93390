"""Run folders: what a search leaves behind, how it is written, locked, resumed and read back.

A run folder holds ``config.json`` (arguments, seed, versions, benchmark checksums), ``equations.csv`` (the best
formula at each complexity), ``metrics.json`` (held-out, per-fold, transfer and tie figures), ``logbook.csv``,
``stages/<stage>.json`` (each finished stage), ``checkpoints/<stage>.json`` (every generation), ``best_proxy.py``,
``best_proxy.tex`` and the figures ``front.png`` and ``heldout.png``. Everything is JSON, CSV or text: opening a run
folder never runs code from it. One process owns a folder at a time (``.lock``); files are written under temporary
names carrying the writer's pid and renamed into place.
"""
from __future__ import annotations

import io
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

from . import files, schemas
from .errors import DataError, ZcDiscoverError
from .formula import Formula
from .parallel import process_alive

log = logging.getLogger(__name__)
RUN_FILES = ("config.json", "equations.csv", "metrics.json", "logbook.csv", "best_proxy.py", "best_proxy.tex",
             "front.png", "heldout.png")
RUN_FOLDERS = ("stages", "checkpoints")
LOCK = ".lock"
MARKER = ".zc-discover-run"   # says "this folder is a run folder of this project", and of which run
MAX_NAME_BYTES = 255          # a path component longer than this cannot be created on the usual file systems
RUN_FILE_LIMIT = 256 * 2**20   # a checkpoint of a large population with every evaluated tree stays far below


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


def write_text(path: Path, text: str | bytes) -> None:
    """Write ``text`` into a run folder atomically (a temporary file named by this process, then renamed), never
    through a symbolic link (``files.write_text``: the file and every folder up to the run folder are checked)."""
    path = Path(path)
    files.write_text(path, text, root=_run_root(path))


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON atomically (numpy numbers as numbers, NaN and infinities as null)."""
    write_text(path, json.dumps(finite_or_none(payload), indent=2, allow_nan=False) + "\n")


def _run_root(path: Path) -> Path:
    """The run folder a file belongs to (its parent, or the grandparent for stages/ and checkpoints/)."""
    return path.parent.parent if path.parent.name in RUN_FOLDERS else path.parent


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


def read_json(path: Path, what: str, schema: Any = None) -> Any:
    """A JSON file of a run folder, read by ``files.read_json`` (a regular file inside the folder, bounded, no
    duplicate keys) and validated against ``schema`` (``schemas``); a missing or damaged one is a
    ``RunFolderError`` naming it and, for a wrong field, the field."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise RunFolderError(f"{path.parent} has no {path.name} ({what}); it is not a finished run folder. Finish "
                             "it with 'zc-discover search ... --resume'.")
    try:
        return files.read_json(path, what, schema, limit=RUN_FILE_LIMIT, root=_run_root(path))
    except DataError as exc:
        raise RunFolderError(f"damaged run file: {exc}. Restore it, or run the search again with --force; nothing "
                             "in it was run.") from None


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
        """The lock's owner, or None when the lock file is unreadable or malformed (then it is taken over)."""
        try:
            return files.read_json(self.path, "lock file", schemas.Lock, limit=4096,
                                   root=self.path.parent).model_dump()
        except DataError:
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
    if resume and force:
        raise RunFolderError("--resume continues a run folder and --force starts it over; give one of them")
    long = next((part for part in path.parts if len(part.encode()) > MAX_NAME_BYTES), None)
    if long is not None:
        raise RunFolderError(f"-o {str(path)[:80]}...: a folder name of {len(long.encode())} bytes, over the "
                             f"{MAX_NAME_BYTES} a file system allows; choose a shorter name")
    if path.is_symlink():
        raise RunFolderError(f"-o {path} is a symbolic link; a run folder is written (and, with --force, cleared) "
                             "only where it is, never through a link - give the folder itself")
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"-o {path} is a file, not a folder; choose a folder for the run.")
    if path.is_dir() and not (resume or force) and any(p.name != LOCK for p in path.iterdir()):
        raise RunFolderError(f"run folder {path} already exists. Continue it with --resume, or overwrite it "
                             "with --force.")
    if path.is_dir() and force:
        check_is_run_folder(path)
    try:
        files.check_writable(path, "run folder", folder=True)
    except DataError as exc:
        raise RunFolderError(str(exc)) from None


def run_identity(config: dict[str, Any]) -> str:
    """What makes a run this run: the digest of its arguments, the benchmarks' checksums, the code's version and the
    features it searched. Every stage and checkpoint it writes carries it, and a resume reads only those that do."""
    import hashlib
    versions = config.get("versions") or {}
    payload = {"arguments": config.get("arguments"), "benchmark_checksums": config.get("benchmark_checksums"),
               "code": versions.get("code"), "features": config.get("features")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def check_is_run_folder(path: Path) -> None:
    """Refuse to clear (``--force``) a folder that is not a run folder of this project: one that holds anything but
    its lock must carry the run marker (or, written before it, a valid ``config.json``), and its ``stages/`` and
    ``checkpoints/`` must hold nothing but the JSON files a search writes. Nothing is deleted before this passed."""
    entries = [p for p in path.iterdir() if p.name != LOCK]
    if not entries:
        return
    marker, config = path / MARKER, path / "config.json"
    ours = False
    if marker.is_file() and not marker.is_symlink():
        try:
            files.read_json(marker, "run marker", schemas.RunMarker, limit=4096, root=path)
            ours = True
        except DataError:
            ours = False
    if not ours and config.is_file() and not config.is_symlink():
        try:
            files.read_json(config, "the search's configuration", schemas.RunConfig, limit=RUN_FILE_LIMIT, root=path)
            ours = True
        except DataError:
            ours = False
    if not ours:
        raise RunFolderError(f"{path} is not a run folder of this project (no {MARKER} or valid config.json), so "
                             "--force will not clear it; give a new folder or an earlier run's with -o")
    for folder in RUN_FOLDERS:
        inside = path / folder
        if inside.is_dir() and not inside.is_symlink():
            strange = [p.name for p in inside.iterdir() if not (p.is_file() and not p.is_symlink()
                                                              and (p.suffix == ".json" or p.name.endswith(".tmp")))]
            if strange:
                raise RunFolderError(f"{inside} holds {strange[0]!r}, which no search wrote; --force removes only "
                                     "a run folder's own files - move it away first")


def check_entries(path: Path) -> None:
    """Refuse a run folder any of whose entries (its files, ``stages``, ``checkpoints`` and what they hold, the lock)
    is a symbolic link or not a regular file or folder: writing or deleting through one would reach outside it.
    Checked before anything is written or deleted."""
    path = Path(path)
    if not path.is_dir():
        return
    entries = [path / name for name in (*RUN_FILES, *RUN_FOLDERS, LOCK)]
    for folder in RUN_FOLDERS:
        if (path / folder).is_dir() and not (path / folder).is_symlink():
            entries += sorted((path / folder).iterdir())
    for entry in entries:
        if entry.is_symlink():
            raise RunFolderError(f"{entry} is a symbolic link; a run folder's entries must be its own files (remove "
                                 "the link, or choose another folder with -o)")
        if entry.exists() and not (entry.is_file() or entry.is_dir()):
            raise RunFolderError(f"{entry} is not a regular file or folder; remove it, or choose another folder")
        if entry.parent != path and entry.is_dir():   # inside stages/ or checkpoints/: only files
            raise RunFolderError(f"{entry} is a folder where a search keeps its files; remove it (or choose another "
                                 "folder with -o)")
        if entry.is_file() and entry.stat().st_nlink > 1:
            raise RunFolderError(f"{entry} has other hard links; a run folder's files must be its own (copy it, or "
                                 "choose another folder with -o)")


def prepare_folder(path: Path, config: dict[str, Any], resume: bool, force: bool) -> None:
    """Make ``path`` ready for a search described by ``config`` (the caller holds its lock).

    A folder with files is never overwritten without ``force``; ``resume`` continues it only if it was started with
    the same arguments. The whole folder is checked (``check_entries``) before anything in it is deleted."""
    check_output(path, resume, force)
    check_entries(path)
    existing = path / "config.json"
    if path.exists() and any(p.name != LOCK for p in path.iterdir()):
        if force:
            check_is_run_folder(path)
            for name in (*RUN_FILES, MARKER):
                target = path / name
                if target.is_file():
                    target.unlink()
            for name in RUN_FOLDERS:
                if (path / name).is_dir():
                    shutil.rmtree(path / name)
        elif resume:
            if not existing.is_file():
                raise RunFolderError(f"{path} has no config.json: it is not a zc-discover run folder to resume.")
            stored = read_json(existing, "the search's configuration", schemas.RunConfig).model_dump()
            differ = sorted(k for k in set(stored["arguments"]) | set(config["arguments"])
                            if stored["arguments"].get(k) != config["arguments"].get(k))
            if differ:
                raise RunFolderError(f"cannot resume {path}: its search was started with other arguments "
                                     f"({', '.join(differ)}). Use the same ones, or --force to start over.")
            changed = [what for what, key in (("the benchmarks' files (their checksums)", "benchmark_checksums"),
                                              ("the features searched", "features"))
                       if stored.get(key) != config.get(key)]
            if (stored.get("versions") or {}).get("code") != (config.get("versions") or {}).get("code"):
                changed.append("the code (zc-discover's sources)")
            if changed:
                raise RunFolderError(f"cannot resume {path}: {' and '.join(changed)} changed since it started, so its "
                                     "stages would mix two searches; start over with --force")
    elif resume:
        log.warning("nothing to resume in %s; starting a new search", path)
    path.mkdir(parents=True, exist_ok=True)
    for name in RUN_FOLDERS:
        (path / name).mkdir(exist_ok=True)
    if not existing.is_file() or force or not resume:
        write_json(existing, config)
    write_json(path / MARKER, {"kind": "zc-discover run folder", "run": run_identity(config)})


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
    from .features import is_not_feature
    path = Path(path)
    if not path.is_dir():
        raise RunFolderError(f"{path} is not a folder; give the run folder a search wrote (-o RUN_DIR).")
    config = read_json(path / "config.json", "the search's configuration", schemas.RunConfig)
    metrics = read_json(path / "metrics.json", "the search's results", schemas.Metrics)
    leaking = [f for f in metrics.features if is_not_feature(f)]
    if leaking:
        raise RunFolderError(f"{path / 'metrics.json'} names {', '.join(leaking)} as a feature; a formula never reads "
                             "the id or the target, so this run folder is refused (nothing in it was run)")
    try:
        data = files.read_bytes(path / "equations.csv", "equations table", RUN_FILE_LIMIT, root=path)
        equations = pd.read_csv(io.BytesIO(data))
    except DataError as exc:
        if not (path / "equations.csv").exists():
            raise RunFolderError(f"{path} has no equations.csv; finish it with 'zc-discover search ... --resume'.") \
                from None
        raise RunFolderError(str(exc)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise RunFolderError(f"{path / 'equations.csv'} is damaged ({type(exc).__name__}).") from None
    try:
        formula = Formula.from_string(metrics.formula, metrics.features)
    except ZcDiscoverError as exc:
        raise RunFolderError(f"{path / 'metrics.json'} holds a formula that is refused: {exc}") from None
    return Run(path, formula, metrics.model_dump(), equations, config.model_dump())
