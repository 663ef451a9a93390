"""Data-dependent values of the architectures of a benchmark - proxy scores and the activation features - probed in
parallel, cached as they finish, and read from the stored values where those match.

One probe of an architecture serves everything asked of it: every requested proxy, and the activation features
(``FEATURES``), from the same shared passes. A proxy that fails on one architecture (non-finite values, out of memory,
a model without attention heads...) gets NaN for it and the reason in ``<proxy>:error``; the others go on.
``<proxy>:seconds`` is what the proxy costs when computed alone on that architecture: the probe passes it needs plus
its own arithmetic.

Values come from the one value store (``store.ValueStore``), in this order: the per-architecture cache (a stopped
run resumes where it stopped; asking for a subset of architectures probes only those); the stored values of the
shipped benchmarks (``data/values/<benchmark>-<builder>.csv.gz``, written by ``experiments/probe_all.py``), used
only where their provenance - benchmark digest, builder, seed, probe settings, code versions - is the request's; and
a probe of the architecture, for whatever the first two do not hold.
Every entry carries the version of its definition, so bumping one proxy recomputes only it.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..benchmarks import Benchmark, build_model
from ..benchmarks.seeding import INIT_VERSION
from ..errors import UnknownNameError
from ..parallel import parallel_imap
from ..probing.activations import (ACTIVATION_PASSES, ACTIVATION_VERSION, activation_feature_names,
                                   activation_features)
from ..probing.run import PROBE_VERSION, forgetting_draws
from ..probing.settings import ProbeSettings
from ..store import StoredFile, ValueStore, say_once
from ..values import provenance_difference, values_dir
from . import data  # noqa: F401  (registers the data-dependent proxies)
from .registry import PROXIES

log = logging.getLogger(__name__)
FEATURES = "activations"   # the record entry that holds an architecture's activation features


def probe_proxies() -> dict:
    """The registered proxies that probe a model, by name."""
    return {name: proxy for name, proxy in PROXIES.items() if proxy.needs_probe}


def entry_versions(names: list[str], with_features: bool = False) -> dict[str, int]:
    """The current version of each requested entry: a proxy's own, and the activation features' for ``FEATURES``."""
    versions = {name: PROXIES[name].version for name in names}
    if with_features:
        versions[FEATURES] = ACTIVATION_VERSION
    return versions


def _failure(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"


@forgetting_draws
def probe_arch(benchmark: Benchmark, arch_id: str, names: list[str], builder: str, seed: int,
               settings: ProbeSettings = ProbeSettings(), device: str = "cpu",
               with_features: bool = False) -> dict[str, Any]:
    """One architecture probed once for all ``names``: each proxy's value, ``:error`` and ``:seconds``; with
    ``with_features``, ``FEATURES`` holds the activation features (a dict) with its own ``:error`` and ``:seconds``."""
    arch = benchmark.arch(arch_id)
    row: dict[str, Any] = {"arch_id": arch.id}
    passes = {p for name in names for p in PROXIES[name].passes} | (set(ACTIVATION_PASSES) if with_features else set())
    try:
        model = build_model(benchmark, arch, builder, seed, device=device)
        run = settings.probe(model, benchmark.family, arch.config, seed, passes=passes)
    except Exception as exc:  # the model itself cannot be probed: every entry records why
        for name in names + ([FEATURES] if with_features else []):
            row.update({name: math.nan, f"{name}:error": _failure(exc), f"{name}:seconds": 0.0})
        return row
    row.update(score_run(run, names, with_features))
    return row


def score_run(run, names: list[str], with_features: bool = False) -> dict[str, Any]:
    """Every proxy of ``names`` (and, with ``with_features``, the activation features as ``FEATURES``) on one
    probed model (``probing.run.ProbeRun``), sharing its passes: each value, ``:error`` (None, or why it failed:
    one failing proxy does not stop the others) and ``:seconds`` (what it costs computed alone: its passes and its
    own arithmetic)."""
    row: dict[str, Any] = {}
    jobs = [(name, PROXIES[name].function, PROXIES[name].passes) for name in names]
    if with_features:
        jobs.append((FEATURES, activation_features, ACTIVATION_PASSES))
    for name, function, own_passes in jobs:
        start = time.perf_counter()
        before = dict(run.seconds)
        try:
            value = function(run)
            if name != FEATURES:
                value = float(value)
                error = None if math.isfinite(value) else "not finite"
            else:
                bad = [k for k, v in value.items() if not math.isfinite(v)]
                error = f"not finite: {', '.join(bad[:3])}" if bad else None
        except Exception as exc:  # one failing proxy must not stop the others; the reason is kept per architecture
            value, error = math.nan, _failure(exc)
        own = time.perf_counter() - start - sum(run.seconds.get(p, 0) - before.get(p, 0) for p in run.seconds)
        row[name] = value if error is None else math.nan
        row[f"{name}:error"] = error
        row[f"{name}:seconds"] = own + sum(run.seconds.get(p, 0.0) for p in own_passes)
    return row


def _cache_key(benchmark: Benchmark, builder: str, seed: int, settings: ProbeSettings, device: str) -> dict:
    key = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed), **settings.cache_key(),
           "init": INIT_VERSION, "zc": PROBE_VERSION, "torch": torch.__version__}
    if torch.device(device).type != "cpu":   # GPU values agree within a tolerance, not to the bit: kept apart
        key["device"] = torch.device(device).type
    return key


# --- the stored values of the shipped benchmarks ------------------------------------------------------------------

def stored_path(benchmark_name: str, builder: str) -> Path:
    """Where the stored probe values of one benchmark and builder live (``experiments/probe_all.py`` writes them)."""
    return values_dir() / f"{benchmark_name}-{builder}.csv.gz"


def requested_provenance(benchmark: Benchmark, builder: str, seed: int, settings: ProbeSettings) -> dict[str, Any]:
    """What stored values must record to be used for this request (and what ``values_provenance`` records)."""
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


def _stored_entries(meta: dict, values: pd.DataFrame, versions: dict[str, int], path: Path) -> dict[str, dict]:
    """Architecture id -> entries of a stored file, for the entries whose stored version is the current one (a
    changed definition is computed again, never mixed with values of the old one)."""
    stored_versions = meta.get("versions") or {}
    usable = {name for name, version in versions.items() if stored_versions.get(name) == version}
    for name in sorted(set(versions) - usable):
        if name in stored_versions:
            say_once((str(path), name), "stored values of %s in %s are stale (version %s, current %s): probed again",
                     name, path.name, stored_versions.get(name), versions[name])
    features = set(meta.get("features") or []) if FEATURES in usable else set()
    records: dict[str, dict[str, dict]] = {}
    for arch_id, proxy, value, failure, seconds in values[["arch_id", "proxy", "value", "failure", "seconds"]
                                                           ].itertuples(index=False):
        record = records.setdefault(arch_id, {})
        failure = failure if isinstance(failure, str) and failure else None
        if proxy in usable and proxy != FEATURES:
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


def _current(entry: Any, name: str) -> bool:
    """Whether an entry was computed by the current definition of ``name`` and is well-formed."""
    if not isinstance(entry, dict):
        return False
    if entry.get("version") != (ACTIVATION_VERSION if name == FEATURES else PROXIES[name].version):
        return False
    if name == FEATURES:
        return isinstance(entry.get("values"), dict) or entry.get("error") is not None
    return True


def _entry(row: dict, name: str) -> dict:
    value, error, seconds = row[name], row[f"{name}:error"], row[f"{name}:seconds"]
    version = ACTIVATION_VERSION if name == FEATURES else PROXIES[name].version
    if name == FEATURES:
        values = None if error is not None else {k: float(v) for k, v in value.items()}
        return {"version": version, "values": values, "error": error, "seconds": seconds}
    return {"version": version, "value": None if math.isnan(value) else value, "error": error, "seconds": seconds}


def probe_records(benchmark: Benchmark, names: list[str], builder: str, seed: int, settings: ProbeSettings,
                  ids: list[str], n_jobs: int = 1, device: str = "cpu", use_cache: bool = True,
                  retry_failed: bool = False, with_features: bool = False,
                  use_stored: bool = True, reuse: bool = True, tally: dict[str, int] | None = None
                  ) -> dict[str, dict]:
    """Each architecture's record (entry name -> version, value(s), error, seconds) holding every requested entry,
    from the one value store (``store.ValueStore``: the cache, the stored values, or one probe of the architectures
    that lack some).

    ``reuse=False`` probes every architecture again (reading neither the cache nor the stored values; the cache is
    still written). ``tally``, when given, counts the architectures answered by each source (``cache``, ``stored``,
    ``probed``)."""
    wanted = names + ([FEATURES] if with_features else [])
    versions = entry_versions(names, with_features)
    stored = None
    if use_stored and torch.device(device).type == "cpu":
        expected = requested_provenance(benchmark, builder, seed, settings)
        path = stored_path(benchmark.name, builder)
        stored = StoredFile(path, lambda meta: request_difference(meta, expected),
                            lambda meta, values: _stored_entries(meta, values, versions, path))
    store = ValueStore("probe", benchmark.name, _cache_key(benchmark, builder, seed, settings, device), stored,
                       use_cache, reuse)

    def current(entry: Any, name: str) -> bool:
        return _current(entry, name) and not (retry_failed and entry.get("error") is not None)

    def compute(todo: dict[str, list[str]]):
        log.info("probing %d architecture(s) of %s for %d proxies%s", len(todo), benchmark.name, len(names),
                 " and the activation features" if with_features else "")
        tasks = [(benchmark, arch_id, [n for n in lacking if n != FEATURES], builder, seed, settings, device,
                  FEATURES in lacking) for arch_id, lacking in todo.items()]
        jobs = 1 if torch.device(device).type != "cpu" else n_jobs   # one process drives the accelerator
        for arch_id, row in zip(todo, parallel_imap(probe_arch, tasks, jobs, f"probe {benchmark.name}")):
            yield arch_id, {name: _entry(row, name) for name in todo[arch_id]}

    records = store.get(ids, wanted, current, compute)
    if tally is not None:
        for kind, count in store.tally.items():
            kind = "probed" if kind == "computed" else kind
            tally[kind] = tally.get(kind, 0) + count
    return records


def _settings(settings: ProbeSettings | None, batch: int | None, seq: int | None) -> ProbeSettings:
    settings = settings or ProbeSettings()
    return dataclasses.replace(settings, batch=batch or settings.batch, seq=seq or settings.seq)


def data_proxy_table(benchmark: Benchmark, names: list[str] | None = None, builder: str | None = None,
                     seed: int = 0, batch: int | None = None, seq: int | None = None, n_jobs: int = 1,
                     use_cache: bool = True, retry_failed: bool = False, ids: list[str] | None = None,
                     device: str = "cpu", settings: ProbeSettings | None = None,
                     use_stored: bool = True) -> pd.DataFrame:
    """Data-dependent proxy scores, one row per architecture: each proxy's value, ``:error`` and ``:seconds``.

    Parameters
    ----------
    benchmark : Benchmark
    names : list of str, optional
        Probe proxies to compute (default: all registered).
    builder, seed : reading and initialisation of the models.
    batch, seq : int, optional
        Probe batch shape (default: the family's); shorthands for ``settings``.
    n_jobs : int
        Parallel workers.
    use_cache : bool
        Read and write the per-architecture records.
    retry_failed : bool
        Probe again the architectures on which a cached proxy failed (say, out of memory on a busier machine).
    ids : list of str, optional
        Only these architectures, in this order (default: all).
    device : str
        Where models are built and probed.
    settings : ProbeSettings, optional
        The whole probe: batch shape, token distribution or text, gradient source (its ``batch`` / ``seq`` give way
        to the arguments above when those are set).
    use_stored : bool
        Read the stored values of the shipped benchmarks where their provenance matches (``proxies.stored``).
    """
    names = list(names or probe_proxies())
    for name in names:
        if name not in PROXIES or not PROXIES[name].needs_probe:
            raise UnknownNameError("data-dependent proxy", name, probe_proxies())
    builder = benchmark.family.builder(builder)
    ids = [a.id for a in benchmark.archs] if ids is None else [benchmark.arch(i).id for i in ids]
    records = probe_records(benchmark, names, builder, seed, _settings(settings, batch, seq), ids, n_jobs, device,
                            use_cache, retry_failed, use_stored=use_stored)
    rows = []
    for arch_id in ids:
        row: dict[str, Any] = {"arch_id": arch_id}
        for name in names:
            entry = records[arch_id][name]
            row[name] = math.nan if entry["value"] is None else float(entry["value"])
            row[f"{name}:error"] = entry["error"]
            row[f"{name}:seconds"] = float(entry["seconds"])
        rows.append(row)
    table = pd.DataFrame(rows)
    for name in names:
        table[f"{name}:error"] = table[f"{name}:error"].astype("string")
        failed = int(table[f"{name}:error"].notna().sum())
        if failed:
            log.warning("%s failed on %d of %d architectures (first: %s)", name, failed, len(table),
                        table[f"{name}:error"].dropna().iloc[0])
    return table


def activation_table(benchmark: Benchmark, builder: str | None = None, seed: int = 0, batch: int | None = None,
                     seq: int | None = None, n_jobs: int = 1, use_cache: bool = True, device: str = "cpu",
                     ids: list[str] | None = None, settings: ProbeSettings | None = None,
                     use_stored: bool = True) -> pd.DataFrame:
    """The activation features (``probing.activations``), one row per architecture (``featurize --with-activations``).

    Read from the cache or the stored values where they match, else probed (the same records as the proxies').
    An architecture whose probe failed gets NaN in every column, and the reason is logged.
    """
    builder = benchmark.family.builder(builder)
    ids = [a.id for a in benchmark.archs] if ids is None else [benchmark.arch(i).id for i in ids]
    records = probe_records(benchmark, [], builder, seed, _settings(settings, batch, seq), ids, n_jobs, device,
                            use_cache, with_features=True, use_stored=use_stored)
    columns = activation_feature_names()
    rows, failed, seconds = [], [], []
    for arch_id in ids:
        entry = records[arch_id][FEATURES]
        values = entry.get("values") or {}
        if entry.get("error"):
            failed.append((arch_id, entry["error"]))
        seconds.append(float(entry.get("seconds", math.nan)))
        rows.append({"arch_id": arch_id, **{c: float(values.get(c, math.nan)) for c in columns}})
    if failed:
        log.warning("the activation features failed on %d of %d architectures (first: %s on %s)", len(failed),
                    len(ids), failed[0][1], failed[0][0])
    frame = pd.DataFrame(rows, columns=["arch_id", *columns])
    # what one probe pass for all the columns cost, measured when it ran (it may come from the cache now)
    frame.attrs["probe_seconds_per_arch"] = float(np.nanmean(seconds)) if seconds else math.nan
    return frame


def records_to_long(records: dict[str, dict], names: list[str], with_features: bool) -> pd.DataFrame:
    """Records in the long values format: one row per (architecture, proxy or feature column)."""
    rows = []
    columns = activation_feature_names() if with_features else []
    for arch_id, record in records.items():
        for name in names:
            entry = record[name]
            rows.append((arch_id, name, math.nan if entry["value"] is None else float(entry["value"]),
                         entry["error"], float(entry["seconds"])))
        if with_features:
            entry = record[FEATURES]
            values = entry.get("values") or {}
            for column in columns:
                rows.append((arch_id, column, float(values.get(column, math.nan)), entry["error"],
                             float(entry["seconds"])))
    return pd.DataFrame(rows, columns=["arch_id", "proxy", "value", "failure", "seconds"])


__all__ = ["FEATURES", "activation_table", "data_proxy_table", "entry_versions", "probe_arch", "probe_proxies",
           "probe_records", "records_to_long", "request_difference", "requested_provenance", "score_run", "stored_path",
           "values_provenance"]
