"""Structural counts of a decomposed model: parameters per role and number of layers."""
from __future__ import annotations

from .decompose import TaggedTensor
from .roles import ROLES


def structural_counts(tensors: list[TaggedTensor]) -> dict[str, float]:
    counts = {f"params_{role}": 0.0 for role in ROLES}
    for t in tensors:
        counts[f"params_{t.role}"] += t.numel
    layers = {t.layer for t in tensors if t.layer is not None}
    counts["n_params"] = float(sum(t.numel for t in tensors))
    counts["n_layers"] = float(len(layers))
    # Parameters outside the embedding and the output head: LTS's "nonembedding" count.
    counts["params_nonembedding"] = counts["n_params"] - counts["params_embedding"] - counts["params_head"]
    return counts
