"""Data-dependent proxy scores of every architecture of a benchmark: probed in parallel, cached, failures kept.

A proxy that fails on one architecture (non-finite values, out of memory, a model without attention heads...) gets
NaN for it and the reason in ``<proxy>:error``; the others go on. ``<proxy>:seconds`` is what the proxy costs when
computed alone on that architecture: the probe passes it needs plus its own arithmetic.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from typing import Any

import pandas as pd
import torch

from .. import cache
from ..builders import build_model
from ..builders.init import INIT_VERSION, shrink_draw_cache
from ..parallel import parallel_map
from ..registry import Benchmark
from . import proxies  # noqa: F401  (registers)
from .inputs import DEFAULT_SHAPES, VOCAB, make_batch
from .probe import ProbeRun
from .registry import DATA_PROXIES

log = logging.getLogger(__name__)
ZC_VERSION = 2   # bump when the probe passes change for every proxy (one proxy: its own ``version``)


def _vocab(benchmark: Benchmark, arch) -> int:
    return VOCAB.get(benchmark.spec.family) or arch.config["n_token"]


PROBE_DRAW_BYTES = 64 * 2**20


def _forgetting_draws(function):
    """Probe tasks keep at most 64 MB of drawn initial values (the word embeddings every model shares stay). Kept up to
    the draw cache's usual 256 MB they would grow a worker toward loky's limit - it restarts a worker that grew 300 MB
    past its first task, re-importing torch - for little gain next to a probed model's activations."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            shrink_draw_cache(PROBE_DRAW_BYTES)
    return wrapper


@_forgetting_draws
def probe_arch(benchmark: Benchmark, arch_id: str, names: list[str], builder: str, seed: int,
               batch: int | None, seq: int | None) -> dict[str, Any]:
    arch = benchmark.arch(arch_id)
    row: dict[str, Any] = {"arch_id": arch.id}
    family = benchmark.spec.family
    try:
        model = build_model(benchmark, arch, builder, seed)
        seq = min(seq or DEFAULT_SHAPES[family][1], getattr(model, "tgt_len", 10 ** 9) + (family == "gpt2"))
        run = ProbeRun(model, make_batch(family, _vocab(benchmark, arch), batch, seq, seed), family)
    except Exception as exc:  # the model itself cannot be probed: every proxy records why
        for name in names:
            row.update({name: math.nan, f"{name}:error": f"{type(exc).__name__}: {exc}", f"{name}:seconds": 0.0})
        return row
    for name in names:
        proxy = DATA_PROXIES[name]
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


@_forgetting_draws
def activation_row(benchmark: Benchmark, arch_id: str, builder: str, seed: int, batch: int | None,
                   seq: int | None) -> dict[str, Any]:
    from .activation_features import activation_features
    arch = benchmark.arch(arch_id)
    family = benchmark.spec.family
    model = build_model(benchmark, arch, builder, seed)
    seq = min(seq or DEFAULT_SHAPES[family][1], getattr(model, "tgt_len", 10 ** 9) + (family == "gpt2"))
    run = ProbeRun(model, make_batch(family, _vocab(benchmark, arch), batch, seq, seed), family)
    return {"arch_id": arch.id, **activation_features(run)}


def activation_table(benchmark: Benchmark, builder: str | None = None, seed: int = 0, batch: int | None = None,
                     seq: int | None = None, n_jobs: int = 1, use_cache: bool = True) -> pd.DataFrame:
    """``featurize --with-activations``: activation and gradient statistics per role, one row per architecture."""
    from .activation_features import activation_feature_names
    builder = builder or benchmark.spec.builders[0]
    key = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed), "batch": batch, "seq": seq,
           "init": INIT_VERSION, "zc": ZC_VERSION, "torch": torch.__version__}
    path = cache.cache_path("activations", benchmark.name, key)
    ids = [a.id for a in benchmark.archs]
    columns = ["arch_id", *activation_feature_names()]
    if use_cache:
        table = cache.read_table(path, ids, columns)
        if table is not None:
            return table
    rows = parallel_map(activation_row, [(benchmark, i, builder, seed, batch, seq) for i in ids], n_jobs, "probe")
    table = pd.DataFrame(rows, columns=columns)
    if use_cache:
        cache.write_table(table, path)
    return table


def _proxy_key(base: dict, name: str) -> dict:
    """A proxy's cache key. Its version enters only from 2 on, so that bumping one proxy keeps the cached scores of
    all the others (written before versions existed) valid."""
    version = DATA_PROXIES[name].version if name in DATA_PROXIES else 1
    return {**base, "proxy": name, **({"version": version} if version != 1 else {})}


def data_proxy_table(benchmark: Benchmark, names: list[str] | None = None, builder: str | None = None,
                     seed: int = 0, batch: int | None = None, seq: int | None = None, n_jobs: int = 1,
                     use_cache: bool = True, retry_failed: bool = False) -> pd.DataFrame:
    """One row per architecture: each proxy's score, ``:error`` and ``:seconds``.

    Each proxy is cached in a file of its own, so asking for one proxy reuses what an earlier call computed for many;
    the proxies still missing are computed together, one probe of each architecture serving them all.
    ``retry_failed`` probes again the architectures on which a cached proxy failed (say, out of memory on a busier
    machine) and keeps the new rows."""
    names = list(names or DATA_PROXIES)
    builder = builder or benchmark.spec.builders[0]
    ids = [a.id for a in benchmark.archs]
    base = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed), "batch": batch, "seq": seq,
            "init": INIT_VERSION, "zc": ZC_VERSION, "torch": torch.__version__}
    paths = {name: cache.cache_path(f"zc-{name}", benchmark.name, _proxy_key(base, name)) for name in names}
    parts: dict[str, pd.DataFrame] = {}
    if use_cache:
        for name in names:
            part = cache.read_table(paths[name], ids, ["arch_id", name, f"{name}:error", f"{name}:seconds"])
            if part is not None:
                parts[name] = part
    missing = [name for name in names if name not in parts]
    if missing:
        rows = parallel_map(probe_arch, [(benchmark, i, missing, builder, seed, batch, seq) for i in ids], n_jobs,
                            "probe")
        computed = pd.DataFrame(rows)
        for name in missing:
            part = computed[["arch_id", name, f"{name}:error", f"{name}:seconds"]].astype({f"{name}:error": "string"})
            failed = part[f"{name}:error"].notna().sum()
            if failed:
                log.warning("%s failed on %d of %d architectures (first: %s)", name, failed, len(part),
                            part[f"{name}:error"].dropna().iloc[0])
            if use_cache:
                cache.write_table(part, paths[name])
            parts[name] = part
    if retry_failed:
        _retry_failures(parts, benchmark, builder, seed, batch, seq, n_jobs, paths if use_cache else None)
    table = pd.DataFrame({"arch_id": ids})
    for name in names:
        table = table.merge(parts[name].assign(arch_id=parts[name]["arch_id"].astype(str)), on="arch_id",
                            how="left", validate="one_to_one")
    return table


def _retry_failures(parts: dict[str, pd.DataFrame], benchmark: Benchmark, builder: str, seed: int,
                    batch: int | None, seq: int | None, n_jobs: int, paths: dict | None) -> None:
    failed = {name: part.loc[part[f"{name}:error"].notna(), "arch_id"].astype(str).tolist()
              for name, part in parts.items()}
    ids = sorted(set().union(*failed.values()))
    if not ids:
        return
    names = [name for name in parts if failed[name]]
    log.info("probing again %d architecture(s) on which %s failed", len(ids), ", ".join(names))
    rows = pd.DataFrame(parallel_map(probe_arch, [(benchmark, i, names, builder, seed, batch, seq) for i in ids],
                                     n_jobs, "probe")).set_index("arch_id")
    for name in names:
        columns = [name, f"{name}:error", f"{name}:seconds"]
        part = parts[name].set_index(parts[name]["arch_id"].astype(str))
        part.loc[rows.index, columns] = rows[columns].astype(part[columns].dtypes.to_dict())
        parts[name] = part.reset_index(drop=True)
        if paths is not None:
            cache.write_table(parts[name], paths[name])


def register_with_main_registry() -> None:
    """Make every data-dependent proxy scorable by name beside zerolm (``score``, ``compare``)."""
    from ..proxies.registry import PROXIES, ProxyContext, ProxyResult, register_proxy

    def make(name: str):
        def function(ctx: ProxyContext) -> ProxyResult:
            options = ctx.options
            table = data_proxy_table(ctx.benchmark, [name], ctx.builder, ctx.seed, options.get("batch"),
                                     options.get("seq"), options.get("n_jobs", 1),
                                     retry_failed=options.get("retry_failed", False))
            rows = table.set_index("arch_id").loc[ctx.table["arch_id"].astype(str)]
            errors = rows[f"{name}:error"].dropna()
            info = {"failed": int(len(errors)), "seconds_per_arch": float(rows[f"{name}:seconds"].mean())}
            if len(errors):
                info["first_error"] = str(errors.iloc[0])
            return ProxyResult(rows[name].to_numpy(float), info)
        return function

    for name, proxy in DATA_PROXIES.items():
        if name not in PROXIES:
            register_proxy(name, proxy.citation, proxy.description, needs_data=True,
                           needs_gradients=proxy.needs_gradients, uses_features=False)(make(name))


__all__ = ["activation_table", "data_proxy_table", "probe_arch", "register_with_main_registry"]
