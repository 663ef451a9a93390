"""Data-dependent features for the search (``featurize --with-activations``), named like the weight features.

Each statistic is measured per sub-module role and layer from one probe of the model (its shared task pass), then
aggregated over the layers that have the role into ``<agg>_<role>_<stat>``, e.g. ``mean_attention_attn_entropy``.
Besides the weight features' ``sum``, ``mean``, ``max`` and ``min``, data features aggregate by depth: ``first`` and
``last`` (the lowest and the highest layer) and ``ratio`` (last / first; 0 where the first is 0), so that how a signal
changes through the model (rank collapse, vanishing gradients) is one column. A role a model lacks gives 0 everywhere.

The statistics (``ACTIVATION_STATS`` says which role has which), with their sources:

- ``act_mean``, ``act_norm``, ``act_sparsity``: mean |h|, RMS of h, and the share of h <= 0, over an FFN's first hidden
  activation h (after its non-linearity).
- ``act_pca99``: principal components of an FFN's hidden activations (every token a sample) holding 99% of their
  variance: W-PCA's quantity (Zhang et al., 2025), per layer. ``act_eff_rank``: the effective rank (Roy & Vetterli,
  2007) of the same spectrum's singular values.
- ``grad_norm`` and ``snip``: ||dL/dW||_F and sum |W * dL/dW| over the role's weight matrices (Abdelfattah et al., ICLR
  2021; Lee et al., ICLR 2019). ``ratio_<role>_grad_norm`` is the last layer's over the first's: trainability through
  depth (vanishing or exploding gradients).
- ``grad_snr``: ||mean_b G_b||^2 / mean_b ||G_b - mean G||^2 over the per-example gradients G_b of the role's linear
  weights under the task loss: the gradient signal-to-noise ratio across the batch (Liu et al., ICLR 2020; ZiCo, Li et
  al., ICLR 2023, from batches).
- ``attn_maxprob``, ``attn_entropy``: the mean largest attention weight, and the mean entropy of the heads' softmax
  normalised by log(keys) (``ratio_attention_attn_entropy``: attention entropy by depth; entropy collapse, Zhai et al.,
  ICML 2023). ``head_importance``: sum |dL/dm_h| over head masks m (Michel et al., NeurIPS 2019).
- ``token_rank``: the effective rank of the tokens entering the sub-module (per example, sequence x width, the
  residual stream at that depth), averaged over the batch; ``token_spread``: 1 - their mean pairwise cosine. Rank
  collapse in depth (Dong et al., ICML 2021; Noci et al., NeurIPS 2022) is both falling through the layers
  (``ratio_<role>_token_rank``, ``ratio_<role>_token_spread``; the spread, not the cosine, so that the ratio of a
  quantity near 0 at the first layer is not taken).
- ``jac_norm``: the RMS over examples of ||d(u . y)/dx|| at the sub-module's input x, u a fixed random read-out of the
  outputs y: the input-output Jacobian of the residual stream from that depth on (signal propagation, Schoenholz et
  al., ICLR 2017); ``jac_eff_rank``: the effective rank of those per-example gradients (Mellor et al.'s Jacobian
  covariance, ICML 2021, per depth).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from primitives.combinators import AGGREGATIONS
from .signals import effective_rank, ffn_spectra, pca_components

ACTIVATION_VERSION = 2   # bump when a statistic's definition changes: stored and cached values are keyed by it
DEPTH_AGGREGATIONS = ("first", "last", "ratio")
ACTIVATION_AGGREGATIONS = (*AGGREGATIONS, *DEPTH_AGGREGATIONS)
_SHARED = ("grad_norm", "snip", "grad_snr", "token_rank", "token_spread", "jac_norm", "jac_eff_rank")
ACTIVATION_STATS = {"ffn": ("act_mean", "act_norm", "act_sparsity", "act_pca99", "act_eff_rank", *_SHARED),
                    "attention": ("attn_maxprob", "attn_entropy", "head_importance", *_SHARED),
                    "mixing": _SHARED}
# what activation_features reads from a probe run: the task pass with the signals recorded
ACTIVATION_PASSES = ("task", "signals", "ffn_spectra")


def activation_feature_names() -> list[str]:
    """The columns ``activation_features`` produces."""
    return [f"{agg}_{role}_{stat}" for role, stats in ACTIVATION_STATS.items() for stat in stats
            for agg in ACTIVATION_AGGREGATIONS]


def aggregate_layers(values_by_layer: dict) -> dict[str, float]:
    """One statistic's per-layer values -> each aggregation (0 for every one where there is no layer)."""
    if not values_by_layer:
        return {agg: 0.0 for agg in ACTIVATION_AGGREGATIONS}
    # layers in depth order; values outside any layer (None) count as coming first
    ordered = [values_by_layer[k] for k in sorted(values_by_layer, key=lambda k: (k is not None, k or 0))]
    result = {agg: float(function(ordered)) for agg, function in AGGREGATIONS.items()}
    first, last = float(ordered[0]), float(ordered[-1])
    result.update(first=first, last=last, ratio=last / first if first != 0 else 0.0)
    return result


def activation_features(run) -> dict[str, float]:
    """Activation and gradient statistics of one probed model (a ``ProbeRun`` that records signals), aggregated by
    role and layer."""
    per_layer: dict[tuple[str, str], dict] = defaultdict(lambda: defaultdict(float))
    task = run.task
    weights = {t.name: t for t in run.weights()}
    for name, grad in task["grads"].items():
        t = weights[name]
        if t.role in ACTIVATION_STATS:
            per_layer[(t.role, "grad_norm")][t.layer] += float(grad.norm())
            per_layer[(t.role, "snip")][t.layer] += float((t.tensor.detach() * grad).abs().sum())
    for module, act, spectrum in zip(run.ffn_modules, task["acts"], ffn_spectra(run)):
        layer = run.layer_of(module)
        per_layer[("ffn", "act_mean")][layer] += float(act.abs().mean())
        per_layer[("ffn", "act_norm")][layer] += float(act.pow(2).mean().sqrt())
        per_layer[("ffn", "act_sparsity")][layer] += float((act <= 0).float().mean())
        per_layer[("ffn", "act_pca99")][layer] += float(pca_components(spectrum))
        per_layer[("ffn", "act_eff_rank")][layer] += effective_rank(spectrum)
    for module, probs, mask_grad in zip(run.attention_modules, task["probs"], task["head_mask_grads"]):
        layer = run.layer_of(module)
        entropy = -(probs * probs.clamp_min(1e-30).log()).sum(-1) / math.log(probs.shape[-1])
        per_layer[("attention", "attn_maxprob")][layer] += float(probs.max(-1).values.mean())
        per_layer[("attention", "attn_entropy")][layer] += float(entropy.mean())
        if mask_grad is not None:   # None: the model's attention takes no head mask (Hugging Face models)
            per_layer[("attention", "head_importance")][layer] += float(mask_grad.abs().sum())
    signal, noise = defaultdict(lambda: defaultdict(float)), defaultdict(lambda: defaultdict(float))
    for role, layer, mean_square, spread in task["gradient_noise"]:
        signal[role][layer] += mean_square
        noise[role][layer] += spread
    for role in signal:
        for layer in signal[role]:
            per_layer[(role, "grad_snr")][layer] = (signal[role][layer] / noise[role][layer]
                                                    if noise[role][layer] > 0 else 0.0)
    for sub in task["signals"]:
        role, layer = sub["role"], sub["layer"]
        # a sub-module seen twice in one layer (none of the shipped families has one) would add up like the others
        per_layer[(role, "token_rank")][layer] += float(np.mean([effective_rank(e) for e in sub["token_eigenvalues"]]))
        per_layer[(role, "token_spread")][layer] += 1.0 - sub["token_cosine"]
        gram = sub["jacobian_gram"]
        if gram is not None:
            per_layer[(role, "jac_norm")][layer] += float(np.sqrt(max(np.trace(gram), 0.0) / gram.shape[0]))
            per_layer[(role, "jac_eff_rank")][layer] += effective_rank(np.linalg.eigvalsh(gram))
    features = {}
    for role, stats in ACTIVATION_STATS.items():
        for stat in stats:
            for agg, value in aggregate_layers(per_layer.get((role, stat), {})).items():
                features[f"{agg}_{role}_{stat}"] = value
    return features


__all__ = ["ACTIVATION_AGGREGATIONS", "ACTIVATION_PASSES", "ACTIVATION_STATS", "ACTIVATION_VERSION",
           "activation_feature_names", "activation_features", "aggregate_layers"]
