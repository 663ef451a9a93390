"""Benchmark -> weight-feature table: one row per architecture, measured on its real torch model.

Three steps, so that no matrix is measured twice:
1. plan (parallel over architectures): build each model on the meta device, decompose it, count its parameters and
   FLOPs, and note each 2-D weight's ``InitKey`` - the seed, name, shape and scale that fully determine its values;
2. measure (parallel over distinct keys): draw each distinct weight once and compute its statistics from one SVD;
3. assemble: aggregate each architecture's statistics by role and layer.
Architectures share most weights (same name and shape -> same values, see ``builders/init.py``): the 500 FlexiBERT
models hold about 12,000 matrices but fewer than 250 distinct ones. ``featurize_model`` is the direct path for any
model; the tests check that both agree.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from primitives.combinators import aggregate
from primitives.decompose import decompose
from primitives.features import model_features
from primitives.statistics import STATISTICS, matrix_statistics, singular_values
from primitives.structure import analytic_flops, structural_counts
from .. import cache
from ..benchmarks import Benchmark, build_model
from ..benchmarks.seeding import INIT_VERSION, InitKey, draw
from ..parallel import engine, parallel_map
from .columns import structure_columns, table_columns

log = logging.getLogger(__name__)
FEATURE_VERSION = 3   # bump when a feature's definition changes: cached tables are keyed by it
FLOPS_SEQ_LEN = 128


@dataclass
class ArchPlan:
    """What featurizing one architecture needs: its counts and the InitKey of each weight matrix."""
    arch_id: str
    target: float
    counts: dict[str, float]
    matrices: list[tuple[str, int | None, InitKey]]


def count_flops(model: nn.Module, seq_len: int = FLOPS_SEQ_LEN) -> float:
    """Analytic FLOPs of one forward pass over one sequence (GPT-2 models: at most their trained ``tgt_len``)."""
    return analytic_flops(model, min(seq_len, getattr(model, "tgt_len", seq_len)))


def plan_arch(benchmark: Benchmark, arch_id: str, builder: str | None, seed: int) -> ArchPlan:
    """Build one architecture on the meta device and plan its features (no weight is drawn)."""
    arch = benchmark.arch(arch_id)
    model = build_model(benchmark, arch, builder, seed, device="meta")
    tensors = decompose(model)
    counts = structural_counts(tensors)
    counts["flops"] = count_flops(model)
    matrices = []
    for t in tensors:
        if t.kind == "bias" or t.tensor.dim() < 2:
            continue
        key = model.zc_init[t.name]
        if not isinstance(key, InitKey):
            raise RuntimeError(f"{t.name} is a matrix filled with a constant; the planner expects drawn weights")
        matrices.append((t.role, t.layer, key))
    return ArchPlan(arch.id, arch.target, counts, matrices)


def plan_chunk(benchmark: Benchmark, arch_ids: list[str], builder: str | None, seed: int) -> list[ArchPlan]:
    """``plan_arch`` for several architectures (one parallel task)."""
    return [plan_arch(benchmark, arch_id, builder, seed) for arch_id in arch_ids]


def key_statistics(key: InitKey, device: str = "cpu") -> dict[str, float]:
    """The statistics of one distinct drawn matrix, from one SVD."""
    values = draw(key, cache=False).to(device)
    matrix = values.reshape(values.shape[0], -1)
    return matrix_statistics(singular_values(matrix, key.name), tuple(matrix.shape))


DEVICE_BATCH_BYTES = 512 * 2**20   # float64 matrices decomposed together on a GPU


def device_statistics(keys: list[InitKey], device: str) -> dict[InitKey, dict[str, float]]:
    """The statistics of distinct drawn matrices on an accelerator: matrices of one shape are drawn (on the CPU, from
    their own generators, so the values are the CPU's), stacked and decomposed in one batched float64 ``svdvals``
    call per chunk, in this process (one process drives the device; no silent fallback to the CPU)."""
    by_shape: dict[tuple[int, int], list[InitKey]] = {}
    for key in keys:
        rows = key.shape[0]
        by_shape.setdefault((rows, int(torch.Size(key.shape).numel()) // rows), []).append(key)
    out: dict[InitKey, dict[str, float]] = {}
    for (m, n), group in by_shape.items():
        step = max(1, DEVICE_BATCH_BYTES // (8 * m * n))
        for start in range(0, len(group), step):
            chunk = group[start:start + step]
            stack = torch.stack([draw(k, cache=False).reshape(m, n) for k in chunk]).to(device, torch.float64)
            if not torch.isfinite(stack).all():
                raise ValueError(f"a drawn matrix of shape {(m, n)} has non-finite entries")
            if m < n:
                stack = stack.transpose(1, 2)   # the same singular values; LAPACK-style kernels prefer tall
            values = torch.linalg.svdvals(stack).cpu().numpy()
            for key, s in zip(chunk, values):
                out[key] = matrix_statistics(s, (m, n))
    return out


def direct_row(benchmark: Benchmark, arch_id: str, builder: str | None, seed: int, device: str) -> dict[str, Any]:
    """One architecture's row measured on its built model (families whose models are not built from seeded draws,
    such as a caller's own builder: nothing to share between architectures)."""
    arch = benchmark.arch(arch_id)
    model = build_model(benchmark, arch, builder, seed, device=device)
    return {"arch_id": arch.id, "target": arch.target, **featurize_model(model)}


def _plans(benchmark: Benchmark, builder: str | None, seed: int, n_jobs: int) -> dict[str, ArchPlan]:
    ids = [a.id for a in benchmark.archs]
    chunks = [ids[i::max(1, abs(n_jobs)) * 4] for i in range(max(1, abs(n_jobs)) * 4)]
    plan_lists = parallel_map(plan_chunk, [(benchmark, c, builder, seed) for c in chunks if c], n_jobs,
                              f"{benchmark.name}: model shapes (chunks of models)")
    return {p.arch_id: p for plan_list in plan_lists for p in plan_list}


def _compute(benchmark: Benchmark, builder: str | None, seed: int, n_jobs: int, device: str) -> pd.DataFrame:
    ids = [a.id for a in benchmark.archs]
    if not benchmark.family.seeded_draws:
        rows = parallel_map(direct_row, [(benchmark, i, builder, seed, device) for i in ids], n_jobs,
                            f"featurize {benchmark.name}: models")
        return pd.DataFrame(rows)[table_columns()]
    start = time.perf_counter()
    plans = _plans(benchmark, builder, seed, n_jobs)
    structure_seconds = time.perf_counter() - start
    keys = sorted({key for p in plans.values() for _, _, key in p.matrices})
    log.info("%d architectures hold %d matrices, %d distinct: one SVD each (cached afterwards)", len(plans),
             sum(len(p.matrices) for p in plans.values()), len(keys))
    # Largest first, so that the long SVDs do not end up last on one worker.
    order = sorted(keys, key=lambda k: -k.shape[0] * (torch.Size(k.shape).numel() // k.shape[0]))
    if torch.device(device).type == "cpu":
        stats = dict(zip(order, parallel_map(key_statistics, [(k, device) for k in order], n_jobs,
                                                f"featurize {benchmark.name}: weight matrices")))
    else:
        stats = device_statistics(order, device)
    rows = []
    for arch_id in ids:
        plan = plans[arch_id]
        features = aggregate((role, layer, stats[key]) for role, layer, key in plan.matrices)
        rows.append({"arch_id": arch_id, "target": plan.target, **plan.counts, **features})
    table = pd.DataFrame(rows)
    table.attrs["structure_seconds"] = structure_seconds   # what the counts alone cost (``structure_table``)
    return table


def featurize(benchmark: Benchmark, builder: str | None = None, seed: int = 0, n_jobs: int = 1,
              backend: str = "loky", scheduler: str | None = None, device: str = "cpu",
              use_cache: bool = True) -> pd.DataFrame:
    """The weight-feature table of ``benchmark``: one row per architecture.

    Parameters
    ----------
    benchmark : Benchmark
    builder : str, optional
        Reading of the configs (default: the family's first).
    seed : int
        Initialisation seed.
    n_jobs : int
        Parallel workers (-1: all cores); the table is identical for any value.
    backend : {"loky", "dask"}
        joblib backend; ``scheduler`` is a Dask scheduler address (default: a local cluster).
    device : str
        Where the SVDs run (``cpu`` or ``cuda``).
    use_cache : bool
        Read and write the on-disk cache (``$ZC_DISCOVER_CACHE``).

    Returns
    -------
    pandas.DataFrame
        ``arch_id``, ``target`` (higher is better), ``n_params``, structure (``n_layers``, ``params_<role>``,
        ``count_<role>``), ``flops`` and ``<agg>_<role>_<stat>`` for every registered statistic.
    """
    builder = benchmark.family.builder(builder)
    key: dict[str, Any] = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed),
                           "init": INIT_VERSION, "features": FEATURE_VERSION, "stats": sorted(STATISTICS),
                           "device": torch.device(device).type}
    path = cache.cache_path("features", benchmark.name, key)
    ids = [a.id for a in benchmark.archs]
    if use_cache:
        table = cache.read_table(path, ids, table_columns(), key)
        if table is not None and not _same_targets(table, benchmark):
            log.warning("cache %s holds other targets than %s's files; recomputing", path, benchmark.name)
            table = None
        if table is not None:
            log.info("features of %s (%s, seed %d) read from cache %s", benchmark.name, builder, seed, path)
            return table
    start = time.perf_counter()
    with engine(backend, scheduler, n_jobs):
        table = _compute(benchmark, builder, seed, n_jobs, device)
    # Kept with the table (parquet stores attrs), so that reports can state the cost of the features.
    table.attrs.update({"featurize_seconds": time.perf_counter() - start,
                        "structure_seconds": table.attrs.get("structure_seconds", time.perf_counter() - start),
                        "n_jobs": n_jobs, "builder": builder,
                        "seed": int(seed), "benchmark": benchmark.name})
    if use_cache:
        cache.store_table(table, path, key)
    return table


def _same_targets(table: pd.DataFrame, benchmark: Benchmark) -> bool:
    """Whether a cached table's targets are the benchmark's (a table is never trusted to say what was trained)."""
    import numpy as np
    return np.array_equal(table["target"].to_numpy(float), np.asarray([a.target for a in benchmark.archs], float),
                          equal_nan=True)


def structure_table(benchmark: Benchmark, builder: str | None = None, seed: int = 0, n_jobs: int = 1,
                    use_cache: bool = True) -> pd.DataFrame:
    """The counts of ``benchmark``'s models from their shapes alone (built on the meta device, no weight drawn, no
    SVD): ``structure_columns`` - what the size baselines (``params``, ``flops``, ...) and formulas over counts read,
    in seconds where the whole feature table takes minutes. ``attrs["structure_seconds"]`` is what it cost.

    Parameters
    ----------
    benchmark : Benchmark
    builder, seed : the models' reading and initialisation (the seed does not change a count).
    n_jobs : int
        Parallel workers.
    use_cache : bool
        Read and write the on-disk cache; a cached full feature table answers too.

    Returns
    -------
    pandas.DataFrame
    """
    builder = benchmark.family.builder(builder)
    key = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed), "init": INIT_VERSION,
           "features": FEATURE_VERSION}
    path = cache.cache_path("structure", benchmark.name, key)
    ids = [a.id for a in benchmark.archs]
    columns = structure_columns()
    if use_cache:
        table = cache.read_table(path, ids, columns, key)
        if table is not None and _same_targets(table, benchmark):
            return table
    if not benchmark.family.seeded_draws:   # the caller's own models are measured model by model anyway
        return featurize(benchmark, builder, seed, n_jobs, use_cache=use_cache)[columns]
    start = time.perf_counter()
    plans = _plans(benchmark, builder, seed, n_jobs)
    table = pd.DataFrame([{"arch_id": i, "target": plans[i].target, **plans[i].counts} for i in ids])[columns]
    table.attrs.update({"structure_seconds": time.perf_counter() - start, "n_jobs": n_jobs, "builder": builder,
                        "seed": int(seed), "benchmark": benchmark.name})
    if use_cache:
        cache.store_table(table, path, key)
    return table


def featurize_model(model: nn.Module, memo: dict | None = None) -> dict[str, float]:
    """The same features for a single model of any supported family (Hugging Face style modules included); ``memo``
    (kept across models) measures a matrix met before from its digest (``primitives.features.model_features``)."""
    with torch.no_grad():
        features = model_features(model, memo)
    features["flops"] = count_flops(model)
    return features

