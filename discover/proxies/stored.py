"""The stored values of the shipped benchmarks: every architecture probed once, kept in the repository.

``experiments/probe_all.py`` probes every architecture of every shipped benchmark with every registered
data-dependent proxy and the activation features, and writes ``data/values/<benchmark>-<builder>.csv.gz`` (the long
values format) with ``<benchmark>-<builder>.json`` beside it: the benchmark's digest, builder, seed, probe settings,
the initialisation, probe and torch versions, and the version of every proxy and of the feature group. A comparison,
a score or a search then reads these instead of probing, but only what they match:

- the file as a whole is used only when the benchmark digest, builder, seed, probe settings, initialisation and probe
  versions and torch version are the request's (otherwise nothing of it is read, and the log says which differed);
- each proxy (and the feature group) only when its stored version is its current one: a changed definition is
  probed again, never mixed with values of the old one.

The folder is ``$ZC_DISCOVER_VALUES``, else ``data/values`` of the source checkout the package runs from.
"""
from __future__ import annotations

import functools
import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..benchmarks import Benchmark
from ..benchmarks.seeding import INIT_VERSION
from ..errors import DataError
from ..probing.run import PROBE_VERSION
from ..probing.settings import ProbeSettings
from ..values import ENV_VALUES, provenance, provenance_difference, read_values, values_dir  # noqa: F401

log = logging.getLogger(__name__)
FEATURES = "activations"
_said: set[tuple] = set()


def stored_path(benchmark_name: str, builder: str) -> Path:
    """Where the stored values of one benchmark and builder live."""
    return values_dir() / f"{benchmark_name}-{builder}.csv.gz"


def requested_provenance(benchmark: Benchmark, builder: str, seed: int, settings: ProbeSettings) -> dict[str, Any]:
    """What stored values must record to be used for this request (and what ``write_stored`` records)."""
    return {"benchmark": benchmark.name, "benchmark_sha256": benchmark.checksum, "builder": builder, "seed": int(seed),
            "probe": settings.describe(), "init_version": INIT_VERSION, "probe_version": PROBE_VERSION,
            "torch": torch.__version__, "device": "cpu"}


def request_difference(meta: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """What differs between a stored file's provenance and a request (``requested_provenance``), in words; None when
    the file answers it."""
    differs = provenance_difference(meta, {k: expected[k] for k in ("benchmark", "builder", "seed", "probe")})
    if differs is None:
        for key in ("benchmark_sha256", "init_version", "probe_version", "torch", "device"):
            if meta.get(key) != expected[key]:
                return f"it was computed with {key} {meta.get(key)!r}, not {expected[key]!r}"
    return differs


def values_provenance(benchmark: Benchmark, builder: str, seed: int, settings: ProbeSettings, names: list[str],
                      features: list[str], versions: dict[str, int], **extra: Any) -> dict[str, Any]:
    """The JSON written beside a values file of probe values: the request it answers (``requested_provenance``), the
    proxies and feature columns it holds, their versions, and ``extra`` facts (wall time, machine, commit)."""
    return {**requested_provenance(benchmark, builder, seed, settings), "proxies": list(names),
            "features": list(features), "versions": dict(versions), **extra}


def _say_once(key: tuple, message: str, *args) -> None:
    if key not in _said:
        _said.add(key)
        log.info(message, *args)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> tuple[dict, pd.DataFrame]:
    """(provenance, values) of a stored file, read once per file version."""
    meta = provenance(path)
    return meta, read_values([path])


def stored_records(benchmark: Benchmark, builder: str, seed: int, settings: ProbeSettings,
                   versions: dict[str, int]) -> dict[str, dict[str, dict]]:
    """Architecture id -> entry name -> entry (as the probe records hold them) from the stored values, for the entries
    of ``versions`` whose stored version is current; {} when there are none or they do not match the request."""
    path = stored_path(benchmark.name, builder)
    if not path.is_file():
        return {}
    try:
        info = path.stat()
        meta, values = _load(str(path), info.st_mtime_ns, info.st_size)
    except DataError as error:
        _say_once((str(path), "bad"), "stored values not used: %s", error)
        return {}
    differs = request_difference(meta, requested_provenance(benchmark, builder, seed, settings))
    if differs is not None:
        _say_once((str(path), differs), "stored values %s not used: %s", path.name, differs)
        return {}
    stored_versions = meta.get("versions") or {}
    usable = {name for name, version in versions.items() if stored_versions.get(name) == version}
    for name in sorted(set(versions) - usable):
        if name in stored_versions:
            _say_once((str(path), name), "stored values of %s in %s are stale (version %s, current %s): probed again",
                      name, path.name, stored_versions.get(name), versions[name])
    key = tuple(sorted((name, versions[name]) for name in usable))
    return _records(str(path), info.st_mtime_ns, info.st_size, key)


@functools.lru_cache(maxsize=16)
def _records(path: str, mtime_ns: int, size: int, usable: tuple[tuple[str, int], ...]) -> dict[str, dict[str, dict]]:
    """The records of the usable entries of a stored file, built once per file version and set of entries (callers
    only read them, or replace entries in their own copies of the records)."""
    meta, values = _load(path, mtime_ns, size)
    versions = dict(usable)
    features = set(meta.get("features") or []) if FEATURES in versions else set()
    records: dict[str, dict[str, dict]] = {}
    for arch_id, proxy, value, failure, seconds in values[["arch_id", "proxy", "value", "failure", "seconds"]
                                                           ].itertuples(index=False):
        record = records.setdefault(arch_id, {})
        failure = failure if isinstance(failure, str) and failure else None
        if proxy in versions and proxy != FEATURES:
            record[proxy] = {"version": versions[proxy], "value": None if math.isnan(value) else float(value),
                             "error": failure, "seconds": float(seconds)}
        elif proxy in features:
            entry = record.setdefault(FEATURES, {"version": versions[FEATURES], "values": {}, "error": failure,
                                                 "seconds": float(seconds)})
            if failure is None and entry["values"] is not None:
                entry["values"][proxy] = float(value)
            else:   # the features fail together: one reason for every column
                entry["values"], entry["error"] = None, failure or entry["error"]
    return records


__all__ = ["ENV_VALUES", "requested_provenance", "stored_path", "stored_records", "values_dir", "values_provenance"]
