"""Probe a benchmark's architectures once and write their values file: ``zc-discover probe`` and
``experiments/probe_all.py`` (which stores every shipped benchmark's under ``data/values``).

Every architecture's values are cached as soon as it is probed, so a stopped run continues where it stopped; values
already stored for the same request are reused, so after one proxy's definition changed only that proxy is probed.
"""
from __future__ import annotations

import logging
import platform
import time
from pathlib import Path
from typing import Any, Callable

import torch

from .benchmarks import Benchmark
from .probing import ProbeSettings
from .probing.activations import activation_feature_names
from .proxies.probe_table import (entry_versions, probe_proxies, probe_records, records_to_long, request_difference,
                                  values_provenance)
from .proxies.registry import PROXIES
from .values import write_values
from .version import __version__

log = logging.getLogger(__name__)


def probe_values(benchmark: Benchmark, output: str | Path, proxies: list[str] | None = None,
                 with_features: bool = True, builder: str | None = None, seed: int = 0,
                 settings: ProbeSettings | None = None, ids: list[str] | None = None, n_jobs: int = -1,
                 device: str = "cpu", chunk: int = 20, commit: str | None = None,
                 on_progress: Callable[[int, int, float], None] | None = None, reuse: bool = True) -> dict[str, Any]:
    """Probe ``benchmark``'s architectures for data-dependent proxies (and the activation features) and write the
    long values file ``output`` (``.csv`` or ``.csv.gz``) with its provenance JSON beside it.

    Parameters
    ----------
    benchmark : Benchmark
    output : str or Path
        The values file; ``NAME.json`` beside it says what it was computed on.
    proxies : list of str, optional
        Data-dependent proxies (default: every registered one).
    with_features : bool
        Also the activation feature columns (``featurize --with-activations``).
    builder, seed, settings : the models' reading and initialisation, and the probe.
    ids : list of str, optional
        Only these architectures (default: all).
    n_jobs : int
        Parallel workers.
    device : str
        Where models are probed.
    chunk : int
        Architectures between two progress reports.
    commit : str, optional
        The code version to record (``experiments/probe_all.py`` passes the git commit).
    on_progress : callable, optional
        ``on_progress(done, total, seconds)`` after each chunk (default: a log line with the time left).
    reuse : bool
        Read values already computed for the same request - the cache, and the stored values of the shipped
        benchmarks (``data/values``) - instead of probing those architectures; False probes every one again (a new
        machine or cluster then does all the work).

    Returns
    -------
    dict
        The provenance written beside the values.
    """
    names = list(proxies or probe_proxies())
    builder = benchmark.family.builder(builder)
    settings = settings or ProbeSettings()
    ids = [a.id for a in benchmark.archs] if ids is None else [benchmark.arch(i).id for i in ids]
    start, records, tally = time.perf_counter(), {}, {}
    for first in range(0, len(ids), max(1, chunk)):
        part = ids[first:first + max(1, chunk)]
        records.update(probe_records(benchmark, names, builder, seed, settings, part, n_jobs, device,
                                     with_features=with_features, reuse=reuse, tally=tally))
        done, elapsed = first + len(part), time.perf_counter() - start
        if on_progress is not None:
            on_progress(done, len(ids), elapsed)
        else:
            log.info("%s (%s): %d/%d architectures, %.0f s, about %.1f min left", benchmark.name, builder, done,
                     len(ids), elapsed, elapsed / done * (len(ids) - done) / 60)
    wall = time.perf_counter() - start
    features = activation_feature_names() if with_features else []
    versions = entry_versions(names, with_features)
    meta = values_provenance(benchmark, builder, seed, settings, names, features, versions, n=len(ids),
                             complete=len(ids) == len(benchmark), zc_discover=__version__, commit=commit,
                             python=platform.python_version(), machine=platform.machine(), jobs=n_jobs,
                             wall_seconds_this_run=round(wall, 1),
                             note="wall_seconds_this_run counts only this invocation; architectures read from the "
                                  "cache or the stored values cost it nothing; runs: every invocation that wrote "
                                  "this file, with the entries whose version it changed")
    if torch.device(device).type != "cpu":
        meta["device"] = torch.device(device).type
    meta["runs"] = _run_history(Path(output), meta, versions, {"commit": commit, "jobs": n_jobs,
                                                               "wall_seconds": round(wall, 1)})
    write_values(records_to_long(records, names, with_features), output, meta)
    meta["sources"] = {k: tally.get(k, 0) for k in ("probed", "cache", "stored")}
    log.info("%s (%s): %d architectures x %d proxies%s in %.0f s -> %s", benchmark.name, builder, len(ids),
             len(names), f" + {len(features)} feature columns" if features else "", wall, output)
    if tally.get("cache") or tally.get("stored"):
        log.info("%d architecture(s) probed here; %d read from the cache and %d from the stored values of the same "
                 "request (benchmark, builder, seed, probe, code versions) - nothing was probed for those. To probe "
                 "every architecture again: --recompute (probe_values(..., reuse=False))", tally.get("probed", 0),
                 tally.get("cache", 0), tally.get("stored", 0))
    for line in failure_summary(records, ids, names):
        log.warning(line)
    return meta


def failure_summary(records: dict[str, dict], ids: list[str], names: list[str]) -> list[str]:
    """One line per proxy that failed somewhere: on how many architectures, and why (the commonest reasons)."""
    lines = []
    for name in names:
        reasons: dict[str, int] = {}
        for arch_id in ids:
            error = records[arch_id][name].get("error")
            if error:
                reasons[error] = reasons.get(error, 0) + 1
        if reasons:
            common = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:2]
            why = "; ".join(f"{reason} ({count})" for reason, count in common)
            lines.append(f"{name} failed on {sum(reasons.values())} of {len(ids)} architectures: {why}")
    return lines


def run_history(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs that wrote a values file, from its provenance, first to last; a file written before the history was
    kept counts as one run that probed everything."""
    runs = meta.get("runs")
    if isinstance(runs, list) and runs:
        return runs
    return [{"commit": meta.get("commit"), "jobs": meta.get("jobs"), "wall_seconds": meta.get("wall_seconds_this_run"),
             "changed": "all"}]


def _run_history(output: Path, meta: dict[str, Any], versions: dict[str, int], this_run: dict[str, Any]) -> list:
    """The runs that wrote ``output`` for the same request, this one last, each with the entries whose version it
    changed ("all" for the first): the cost of probing everything stays on record after a later run re-probed one
    proxy. A previous file of another request (benchmark digest, builder, seed, probe, torch) starts a new history."""
    from .errors import DataError
    from .values import provenance
    try:
        previous = provenance(output) if output.exists() else None
    except DataError:
        previous = None
    if previous is None or request_difference(previous, meta) is not None:
        return [{**this_run, "changed": "all"}]
    old = previous.get("versions") or {}
    changed = sorted(name for name, version in versions.items() if old.get(name) != version)
    return [*run_history(previous), {**this_run, "changed": changed}]


def check_proxies(names: list[str] | None) -> list[str]:
    """The data-dependent proxies named (every registered one for None), unknown ones refused with suggestions."""
    from .errors import UnknownNameError
    for name in names or []:
        if name not in PROXIES or not PROXIES[name].needs_probe:
            raise UnknownNameError("data-dependent proxy", name, probe_proxies())
    return list(names or probe_proxies())


__all__ = ["check_proxies", "probe_values", "run_history"]
