"""Structural counts of a decomposed model: parameters per role and number of layers."""
from __future__ import annotations

from .decompose import TaggedTensor
from .roles import ROLES


def structural_counts(tensors: list[TaggedTensor]) -> dict[str, float]:
    """Parameters per role, in all, outside embedding and head, and the number of layers."""
    counts = {f"params_{role}": 0.0 for role in ROLES}
    for t in tensors:
        counts[f"params_{t.role}"] += t.numel
    layers = {t.layer for t in tensors if t.layer is not None}
    counts["n_params"] = float(sum(t.numel for t in tensors))
    counts["n_layers"] = float(len(layers))
    # Parameters outside the embedding and the output head: LTS's "nonembedding" count.
    counts["params_nonembedding"] = counts["n_params"] - counts["params_embedding"] - counts["params_head"]
    return counts


def analytic_flops(model, seq_len: int) -> float:
    """FLOPs of one forward pass over ``seq_len`` tokens, from the model's structure alone (no computation).

    Every Linear and Conv1d counts 2 x (multiply-adds per token) x seq_len; a module that does parameter-free work
    (attention scores, Fourier or cosine transforms, dynamic convolutions) adds its own ``zc_flops(seq_len)``.
    Embedding lookups and the language-model head (not part of the forward pass) count nothing.
    """
    from torch import nn

    total = 0.0
    for module in model.modules():
        if isinstance(module, nn.Linear):
            total += 2.0 * module.in_features * module.out_features * seq_len
        elif isinstance(module, nn.Conv1d):
            total += 2.0 * module.out_channels * (module.in_channels // module.groups) * module.kernel_size[0] * seq_len
        extra = getattr(module, "zc_flops", None)
        if callable(extra):
            total += float(extra(seq_len))
    return total
