"""Any supported torch model -> its feature dictionary (structure, and statistics aggregated by role and layer)."""
from __future__ import annotations

import hashlib

import torch
from torch import nn

from .combinators import aggregate
from .decompose import decompose
from .statistics import matrix_statistics, singular_values
from .structure import structural_counts


def model_features(model: nn.Module, memo: dict | None = None) -> dict[str, float]:
    """Every weight-statistic feature of ``model``: one SVD per 2-D weight (conv kernels flattened), in float64.

    ``memo`` (a dict the caller keeps across models) holds each matrix's statistics under the sha256 of its bytes,
    so a matrix met again - the untouched blocks of the sub-networks of one trained model - costs a digest instead of
    an SVD; equal bytes give equal statistics, so the features are the same with or without it."""
    tensors = decompose(model)
    matrices = []
    for t in tensors:
        matrix = t.matrix()
        if matrix is None or t.kind == "bias":
            continue
        key = None
        if memo is not None:
            data = matrix.detach().contiguous().cpu()
            key = (hashlib.sha256(data.view(torch.uint8).numpy()).hexdigest() if data.numel() else "",
                   tuple(data.shape), str(data.dtype))
        statistics = memo.get(key) if key is not None else None
        if statistics is None:
            statistics = matrix_statistics(singular_values(matrix, t.name), tuple(matrix.shape))
            if key is not None:
                memo[key] = statistics
        matrices.append((t.role, t.layer, statistics))
    return {**structural_counts(tensors), **aggregate(matrices)}
