"""The one home of per-architecture values that cost a model run: probe values, few-step training signals, and any
kind added later. Ask it "these entries of these architectures, for this request" and it answers from, in order:

1. the per-architecture cache (``cache.RecordStore``): one record per architecture, written as soon as it is
   computed, keyed - in its folder's name and inside every record - by the whole request, so a stopped run
   continues where it stopped and a record of another request is never read;
2. the stored file of the request's benchmark (``data/values/...``: the long values format with its provenance
   JSON, ``values``), read only where its provenance answers the request and each entry only where it is current;
3. ``compute``, for whatever the first two do not hold, in parallel, each result cached as it arrives.

An entry is whatever a kind records for an architecture under one name (a proxy's value and its version, a group of
feature columns, a few-step run); ``current(entry, name)`` says whether one read back can stand, ``stored_entries``
turns a stored file into entries. Nothing here knows a kind: probing (``proxies.probe_table``) and few-step training
(``probing.step_values``) are two callers of the same store.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd

from . import cache
from .errors import DataError
from .values import provenance, read_values

log = logging.getLogger(__name__)
_said: set[tuple] = set()

Entries = dict[str, Any]              # name -> entry, for one architecture
Current = Callable[[Any, str], bool]  # (entry, name) -> whether it answers the request


def say_once(key: tuple, message: str, *args) -> None:
    """Log ``message`` once per key (a stored file that does not match is said once, not per chunk)."""
    if key not in _said:
        _said.add(key)
        log.info(message, *args)


@dataclass
class StoredFile:
    """A committed values file that may answer a request: its path, what its provenance must say
    (``difference(meta) -> None`` when it answers), and how its long values become entries."""

    path: Path
    difference: Callable[[dict], str | None]
    entries: Callable[[dict, pd.DataFrame], dict[str, Entries]]


@dataclass
class ValueStore:
    """Values of one kind for one request (see the module docstring).

    Parameters
    ----------
    kind : str
        What the values are (``probe``, ``steps``): names the cache folder.
    benchmark : str
        The benchmark's name (the cache folder's, for a reader of the folder).
    request : dict
        Everything that determines the values: keys the cache.
    stored : StoredFile, optional
        The committed file that may answer the request.
    use_cache : bool
        Read and write the per-architecture cache.
    reuse : bool
        Read what was computed before (cache and stored file); False computes everything again (still cached).
    """

    kind: str
    benchmark: str
    request: dict[str, Any]
    stored: StoredFile | None = None
    use_cache: bool = True
    reuse: bool = True
    tally: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.records = cache.RecordStore(cache.cache_path(self.kind, self.benchmark, self.request, suffix=""),
                                         self.request) if self.use_cache else None

    def get(self, ids: list[str], names: list[str], current: Current,
            compute: Callable[[dict[str, list[str]]], Iterator[tuple[str, Entries]]]) -> dict[str, Entries]:
        """Every architecture's entries ``names``, read where they are current, computed where not.

        ``compute(todo)`` takes {architecture id: the names it lacks} and yields (id, entries) as each is done;
        ``tally`` counts the architectures each source answered (``cache``, ``stored``, ``computed``)."""
        records = {i: (self.records.read(i) if self.records is not None and self.reuse else None) or {} for i in ids}
        source = {i: "cache" for i, r in records.items() if all(current(r.get(n), n) for n in names)}
        if self.reuse and self.stored is not None:
            for arch_id, entries in self._stored(ids).items():
                record = records.get(arch_id)
                if record is None:
                    continue
                for name, entry in entries.items():
                    if name in names and not current(record.get(name), name) and current(entry, name):
                        record[name] = entry
                        source[arch_id] = "stored"
        todo = {i: [n for n in names if not current(records[i].get(n), n)] for i in ids}
        todo = {i: lacking for i, lacking in todo.items() if lacking}
        for arch_id in ids:
            kind = "computed" if arch_id in todo else source.get(arch_id, "cache")
            self.tally[kind] = self.tally.get(kind, 0) + 1
        if todo:
            for arch_id, entries in compute(todo):
                records[arch_id] = {**records[arch_id], **entries}
                if self.records is not None:
                    self.records.write(arch_id, records[arch_id])
        return records

    def _stored(self, ids: Iterable[str]) -> dict[str, Entries]:
        stored = self.stored
        if not stored.path.is_file():
            return {}
        try:
            meta = provenance(stored.path)
            differs = stored.difference(meta)
            if differs is not None:
                say_once((str(stored.path), differs), "stored values %s not used: %s", stored.path.name, differs)
                return {}
            values = read_stored(str(stored.path), *_version(stored.path))
        except DataError as error:
            say_once((str(stored.path), "bad"), "stored values not used: %s", error)
            return {}
        wanted = set(ids)
        return {i: e for i, e in stored.entries(meta, values[values["arch_id"].isin(wanted)]).items()}


def _version(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


_READ: dict[tuple, pd.DataFrame] = {}


def read_stored(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """A stored file's long values, read and checked once per file version (``values.read_values``)."""
    key = (path, mtime_ns, size)
    if key not in _READ:
        if len(_READ) > 8:
            _READ.clear()
        _READ[key] = read_values([path])
    return _READ[key]


__all__ = ["StoredFile", "ValueStore", "read_stored", "say_once"]
