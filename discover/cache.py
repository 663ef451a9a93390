"""On-disk caches of computed tables and per-architecture records, keyed by everything that determines their values.

Nothing here is trusted for its structure alone. A table carries the sha256 of its content (column names, dtypes and
every value) inside its parquet metadata; a record carries the sha256 of its JSON. Every read recomputes the digest:
a file cut short, a foreign file, a flipped byte or a stale version is reported once and recomputed, never used.
Nothing is unpickled: tables are parquet, records JSON.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs

log = logging.getLogger(__name__)
ENV_CACHE = "ZC_DISCOVER_CACHE"
DIGEST_ATTR = "zc_discover_sha256"
KEY_ATTR = "zc_discover_key"   # what the table was computed for, inside the file (its name alone proves nothing)
_warned: set[tuple] = set()


def cache_dir() -> Path:
    """``$ZC_DISCOVER_CACHE``, else the per-user cache directory."""
    root = os.environ.get(ENV_CACHE)
    return Path(root).expanduser() if root else Path(platformdirs.user_cache_dir("zc-discover")) / "features"


def cache_path(kind: str, benchmark_name: str, key: dict[str, Any], suffix: str = ".parquet") -> Path:
    """Where the cache entry of ``kind`` for this benchmark and key lives (the key's digest is in the name)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in benchmark_name)[-60:]
    return cache_dir() / f"{kind}-{safe}-{digest}{suffix}"


def _warn_once(path: Path, why: str) -> None:
    """One warning per damaged file (the same file read again in the same state does not warn again)."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    key = (str(path), why, stamp)
    if key not in _warned:
        _warned.add(key)
        log.warning("cache %s %s; recomputing", path, why)


def table_digest(table: pd.DataFrame) -> str:
    """sha256 over the column names, dtypes and every value of ``table`` (its row index ignored)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in table.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def key_digest(key: dict[str, Any]) -> str:
    """The digest of a cache key (everything that determines an entry's values)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def read_table(path: Path, arch_ids: list[str], columns: list[str], key: dict[str, Any] | None = None
               ) -> pd.DataFrame | None:
    """The cached table, or None (with a warning saying why) when it is absent or cannot be trusted: damaged, of
    other architectures, lacking columns, or - with ``key`` - computed for another key (a table copied into
    another's place: another builder, seed or benchmark version)."""
    if path.is_dir() and not path.is_symlink():
        _warn_once(path, "is a folder, not a cached table")
        return None
    if not path.is_file():
        return None
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "recompute"
        _warn_once(path, f"is unreadable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
        return None
    stored = table.attrs.pop(DIGEST_ATTR, None)
    recorded = table.attrs.pop(KEY_ATTR, None)
    if stored is None:
        _warn_once(path, "carries no content digest (written by an older version)")
        return None
    if table_digest(table) != stored:
        _warn_once(path, "does not match its content digest (the file was damaged)")
        return None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        _warn_once(path, f"lacks columns {', '.join(missing[:5])}")
        return None
    if key is not None and recorded != key_digest(key):
        _warn_once(path, "was computed for another request (builder, seed, benchmark version or code)")
        return None
    if table["arch_id"].astype(str).tolist() != list(arch_ids):
        _warn_once(path, "does not hold this benchmark's architectures")
        return None
    return table


def write_table(table: pd.DataFrame, path: str | Path, key: dict[str, Any] | None = None) -> Path:
    """Write ``.parquet`` (with its content digest and, for a cache entry, its key's) or ``.csv`` atomically: a
    temporary file renamed into place, never through a link or over a hard-linked file."""
    from .files import check_no_links, check_own_file
    path = Path(path)
    if path.suffix not in {".parquet", ".csv"}:
        raise ValueError(f"output {path} must end in .parquet or .csv")
    check_no_links(path)
    check_own_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if path.suffix == ".parquet":
            out = table.copy(deep=False)
            out.attrs = {**table.attrs, DIGEST_ATTR: table_digest(table),
                         **({KEY_ATTR: key_digest(key)} if key is not None else {})}
            out.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def store_table(table: pd.DataFrame, path: Path, key: dict[str, Any]) -> None:
    """``write_table`` for a cache entry: a slot that cannot be written (a folder there, a link, a full disk) is
    reported once and costs a recomputation next time, never the run."""
    from .errors import DataError
    try:
        write_table(table, path, key)
    except (DataError, OSError) as error:
        _warn_once(path, f"cannot be written ({str(error).splitlines()[0]})")


def _json_digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, allow_nan=False).encode()).hexdigest()


class RecordStore:
    """A folder of JSON records, one per architecture, each written atomically with the digest of its content."""

    def __init__(self, folder: Path, key: dict[str, Any] | None = None):
        self.folder = Path(folder)
        self.identity = key_digest(key) if key is not None else None   # kept in every record, checked on read

    def _path(self, arch_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in arch_id)
        if safe != arch_id or len(safe) > 100 or safe.startswith("."):
            safe = f"{safe[:40]}-{hashlib.sha256(arch_id.encode()).hexdigest()[:16]}"
        return self.folder / f"{safe}.json"

    def read(self, arch_id: str) -> dict | None:
        """The record of ``arch_id``, or None when absent, damaged or another request's (reported once)."""
        path = self._path(arch_id)
        if path.is_dir() and not path.is_symlink():
            _warn_once(path, "is a folder, not a record")
            return None
        if not path.is_file() or path.is_symlink():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            record, digest = stored["record"], stored["sha256"]
            valid = isinstance(record, dict) and stored.get("arch_id") == arch_id and _json_digest(record) == digest \
                and stored.get("key") == self.identity
        except (OSError, ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            _warn_once(path, "is damaged or foreign")
            return None
        return record

    def measure_all(self, ids: Iterable[str], measure: Callable[[str], dict], *, label: str = "",
                    every: int = 0) -> list[tuple[str, dict]]:
        """(arch_id, record) for every id, in order: the stored record where there is one, else ``measure(arch_id)``,
        written as soon as it is made (so an interrupted loop resumes where it stopped). With ``every``, one log
        line per ``every`` ids, starting with ``label``."""
        ids, started, out = list(ids), time.perf_counter(), []
        for index, arch_id in enumerate(ids):
            record = self.read(arch_id)
            if record is None:
                record = measure(arch_id)
                self.write(arch_id, record)
            out.append((arch_id, record))
            if every and (index + 1) % every == 0:
                log.info("%s: %d/%d (%.0f s)", label, index + 1, len(ids), time.perf_counter() - started)
        return out

    def write(self, arch_id: str, record: dict) -> None:
        """Store ``record`` (JSON-serialisable, finite numbers) for ``arch_id``, replacing any older one."""
        from .errors import DataError
        from .files import write_text
        path = self._path(arch_id)
        payload = json.dumps({"arch_id": arch_id, "sha256": _json_digest(record), "record": record,
                              "key": self.identity}, sort_keys=True, allow_nan=False) + "\n"
        try:
            write_text(path, payload)
        except (DataError, OSError) as error:   # a cache that cannot be written costs a recomputation, never a run
            _warn_once(path, f"cannot be written ({error})")
