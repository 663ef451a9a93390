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

from primitives.combinators import AGGREGATIONS

ACTIVATION_STATS = {"ffn": ("act_mean", "act_norm", "act_sparsity", "grad_norm", "snip"),
                    "attention": ("attn_maxprob", "attn_entropy", "head_importance", "grad_norm", "snip"),
                    "mixing": ("grad_norm", "snip")}


def activation_feature_names() -> list[str]:
    return [f"{agg}_{role}_{stat}" for role, stats in ACTIVATION_STATS.items() for stat in stats
            for agg in AGGREGATIONS]


def activation_features(run) -> dict[str, float]:
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


__all__ = ["activation_features", "activation_feature_names"]
