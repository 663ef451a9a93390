"""Data-dependent features for the search (``featurize --with-activations``), named like the weight features.

From the probe's task pass, per role and layer: ``act_mean`` (mean |activation| of FFN hidden units), ``act_norm``
(their RMS), ``act_sparsity`` (share that are <= 0), ``grad_norm`` and ``snip`` (||dL/dW||_F and sum |W dL/dW| over the
role's matrices), and for attention ``attn_maxprob`` (mean largest attention weight), ``attn_entropy`` (mean
normalised entropy of the heads' softmax) and ``head_importance`` (sum |dL/dm_h|). Each is aggregated over layers with
sum, mean, max and min into ``<agg>_<role>_<stat>``, e.g. ``mean_attention_attn_entropy``.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pandas as pd
import torch

from primitives.combinators import AGGREGATIONS
from .. import cache
from ..benchmarks import Benchmark, build_model
from ..benchmarks.seeding import INIT_VERSION
from ..parallel import parallel_map
from .run import PROBE_VERSION, forgetting_draws
from .settings import ProbeSettings

ACTIVATION_STATS = {"ffn": ("act_mean", "act_norm", "act_sparsity", "grad_norm", "snip"),
                    "attention": ("attn_maxprob", "attn_entropy", "head_importance", "grad_norm", "snip"),
                    "mixing": ("grad_norm", "snip")}


def activation_feature_names() -> list[str]:
    """The columns ``activation_features`` produces."""
    return [f"{agg}_{role}_{stat}" for role, stats in ACTIVATION_STATS.items() for stat in stats
            for agg in AGGREGATIONS]


def activation_features(run) -> dict[str, float]:
    """Activation and gradient statistics of one probed model, aggregated by role and layer."""
    per_layer: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(float))
    task = run.task
    weights = {t.name: t for t in run.weights()}
    for name, grad in task["grads"].items():
        t = weights[name]
        if t.role in ACTIVATION_STATS:
            per_layer[(t.role, "grad_norm")][t.layer] += float(grad.norm())
            per_layer[(t.role, "snip")][t.layer] += float((t.tensor.detach() * grad).abs().sum())
    for module, act in zip(run.ffn_modules, task["acts"]):
        layer = _layer_of(run, module)
        per_layer[("ffn", "act_mean")][layer] += float(act.abs().mean())
        per_layer[("ffn", "act_norm")][layer] += float(act.pow(2).mean().sqrt())
        per_layer[("ffn", "act_sparsity")][layer] += float((act <= 0).float().mean())
    for module, probs, mask_grad in zip(run.attention_modules, task["probs"], task["head_mask_grads"]):
        layer = _layer_of(run, module)
        entropy = -(probs * probs.clamp_min(1e-30).log()).sum(-1) / math.log(probs.shape[-1])
        per_layer[("attention", "attn_maxprob")][layer] += float(probs.max(-1).values.mean())
        per_layer[("attention", "attn_entropy")][layer] += float(entropy.mean())
        per_layer[("attention", "head_importance")][layer] += float(mask_grad.abs().sum())
    features = {}
    for role, stats in ACTIVATION_STATS.items():
        for stat in stats:
            values = list(per_layer.get((role, stat), {}).values())
            for agg, function in AGGREGATIONS.items():
                features[f"{agg}_{role}_{stat}"] = float(function(values)) if values else 0.0
    return features


def _layer_of(run, module) -> int | None:
    """The layer index of a probed module: the ``zc_layer`` tag of its nearest tagged ancestor."""
    for name, candidate in run.model.named_modules():
        if candidate is module:
            parts = name.split(".")
            for depth in range(len(parts), 0, -1):
                ancestor = run.model.get_submodule(".".join(parts[:depth]))
                if hasattr(ancestor, "zc_layer"):
                    return ancestor.zc_layer
    return None


@forgetting_draws
def activation_row(benchmark: Benchmark, arch_id: str, builder: str, seed: int, batch: int | None,
                   seq: int | None, device: str = "cpu") -> dict[str, Any]:
    """The activation features of one architecture, from its probe's task pass."""
    arch = benchmark.arch(arch_id)
    model = build_model(benchmark, arch, builder, seed, device=device)
    run = ProbeSettings(batch, seq).probe(model, benchmark.family, arch.config, seed)
    return {"arch_id": arch.id, **activation_features(run)}


def activation_table(benchmark: Benchmark, builder: str | None = None, seed: int = 0, batch: int | None = None,
                     seq: int | None = None, n_jobs: int = 1, use_cache: bool = True,
                     device: str = "cpu") -> pd.DataFrame:
    """Activation and gradient statistics per role, one row per architecture (``featurize --with-activations``).

    Cached like the weight features, keyed by the benchmark, builder, seed, probe batch and code versions."""
    builder = benchmark.family.builder(builder)
    key = {"benchmark": benchmark.checksum, "builder": builder, "seed": int(seed), "batch": batch, "seq": seq,
           "init": INIT_VERSION, "zc": PROBE_VERSION, "torch": torch.__version__}
    path = cache.cache_path("activations", benchmark.name, key)
    ids = [a.id for a in benchmark.archs]
    columns = ["arch_id", *activation_feature_names()]
    if use_cache:
        table = cache.read_table(path, ids, columns)
        if table is not None:
            return table
    rows = parallel_map(activation_row, [(benchmark, i, builder, seed, batch, seq, device) for i in ids], n_jobs,
                        "activations")
    table = pd.DataFrame(rows, columns=columns)
    if use_cache:
        cache.write_table(table, path)
    return table


__all__ = ["activation_features", "activation_feature_names", "activation_row", "activation_table"]
