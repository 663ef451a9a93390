"""Data-dependent proxy scores of the architectures of a benchmark: probed in parallel, cached as they finish.

A proxy that fails on one architecture (non-finite values, out of memory, a model without attention heads...) gets
NaN for it and the reason in ``<proxy>:error``; the others go on. ``<proxy>:seconds`` is what the proxy costs when
computed alone on that architecture: the probe passes it needs plus its own arithmetic.

Scores are cached one record per architecture (``cache.RecordStore``), written as soon as that architecture is probed:
a stopped comparison resumes where it stopped, and asking for a subset of architectures (``ids``) probes only those.
Each record keeps every proxy computed for it with the proxy's version, so bumping one proxy recomputes only it.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import pandas as pd
import torch

from .. import cache
from ..benchmarks import Benchmark, build_model
from ..benchmarks.seeding import INIT_VERSION
from ..errors import UnknownNameError
from ..parallel import parallel_imap
from ..probing.run import PROBE_VERSION, forgetting_draws
from ..probing.settings import ProbeSettings
from . import data  # noqa: F401  (registers the data-dependent proxies)
from .registry import PROXIES

log = logging.getLogger(__name__)


def probe_proxies() -> dict:
    """The registered proxies that probe a model, by name."""
    return {name: proxy for name, proxy in PROXIES.items() if proxy.needs_probe}


@forgetting_draws
def probe_arch(benchmark: Benchmark, arch_id: str, names: list[str], builder: str, seed: int,
               settings: ProbeSettings = ProbeSettings(), device: str = "cpu") -> dict[str, Any]:
    """One architecture probed once for all ``names``: each proxy's value, ``:error`` and ``:seconds``."""
    arch = benchmark.arch(arch_id)
    row: dict[str, Any] = {"arch_id": arch.id}
    try:
        model = build_model(benchmark, arch, builder, seed, device=device)
        run = settings.probe(model, benchmark.family, arch.config, seed,
                             passes={p for name in names for p in PROXIES[name].passes})
    except Exception as exc:  # the model itself cannot be probed: every proxy records why
        for name in names:
            row.update({name: math.nan, f"{name}:error": f"{type(exc).__name__}: {exc}", f"{name}:seconds": 0.0})
        return row
    for name in names:
        proxy = PROXIES[name]
        start = time.perf_counter()
        before = dict(run.seconds)
        try:
            value = float(proxy.function(run))
            error = None if math.isfinite(value) else "not finite"
        except Exception as exc:  # one failing proxy must not stop the others; the reason is kept per architecture
            value, error = math.nan, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        own = time.perf_counter() - start - sum(run.seconds.get(p, 0) - before.get(p, 0) for p in run.seconds)
        row[name] = value if error is None else math.nan
        row[f"{name}:error"] = error
        row[f"{name}:seconds"] = own + sum(run.seconds.get(p, 0.0) for p in proxy.passes)
    return row


def _store(benchmark: Benchmark, builder: str, seed: int, settings: ProbeSettings, device: str) -> cache.RecordStore:
    key = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed), **settings.cache_key(),
           "init": INIT_VERSION, "zc": PROBE_VERSION, "torch": torch.__version__}
    if torch.device(device).type != "cpu":   # GPU values agree within a tolerance, not to the bit: kept apart
        key["device"] = torch.device(device).type
    return cache.RecordStore(cache.cache_path("probe", benchmark.name, key, suffix=""))


def _cached(record: dict | None, name: str) -> dict | None:
    entry = (record or {}).get(name)
    if isinstance(entry, dict) and entry.get("version") == PROXIES[name].version:
        return entry
    return None


def data_proxy_table(benchmark: Benchmark, names: list[str] | None = None, builder: str | None = None,
                     seed: int = 0, batch: int | None = None, seq: int | None = None, n_jobs: int = 1,
                     use_cache: bool = True, retry_failed: bool = False, ids: list[str] | None = None,
                     device: str = "cpu", settings: ProbeSettings | None = None) -> pd.DataFrame:
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
    """
    names = list(names or probe_proxies())
    for name in names:
        if name not in PROXIES or not PROXIES[name].needs_probe:
            raise UnknownNameError("data-dependent proxy", name, probe_proxies())
    builder = benchmark.family.builder(builder)
    ids = [a.id for a in benchmark.archs] if ids is None else [benchmark.arch(i).id for i in ids]
    settings = settings or ProbeSettings()
    settings = dataclasses.replace(settings, batch=batch or settings.batch, seq=seq or settings.seq)
    store = _store(benchmark, builder, seed, settings, device) if use_cache else None
    records = {arch_id: (store.read(arch_id) if store else None) or {} for arch_id in ids}
    todo: dict[str, list[str]] = {}
    for arch_id in ids:
        wanted = [n for n in names if _cached(records[arch_id], n) is None
                  or (retry_failed and records[arch_id][n].get("error") is not None)]
        if wanted:
            todo[arch_id] = wanted
    if todo:
        log.info("probing %d architecture(s) of %s for %d proxies", len(todo), benchmark.name, len(names))
        tasks = [(benchmark, arch_id, wanted, builder, seed, settings, device) for arch_id, wanted in todo.items()]
        for arch_id, row in zip(todo, parallel_imap(probe_arch, tasks, n_jobs, "probe")):
            record = dict(records[arch_id])
            for name in todo[arch_id]:
                value = row[name]
                record[name] = {"version": PROXIES[name].version, "value": None if math.isnan(value) else value,
                                "error": row[f"{name}:error"], "seconds": row[f"{name}:seconds"]}
            records[arch_id] = record
            if store:
                store.write(arch_id, record)
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


__all__ = ["data_proxy_table", "probe_arch", "probe_proxies"]
