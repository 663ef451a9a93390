"""Any supported torch model -> its feature dictionary (structure, and statistics aggregated by role and layer)."""
from __future__ import annotations

from torch import nn

from .combinators import aggregate
from .decompose import decompose
from .statistics import matrix_statistics, singular_values
from .structure import structural_counts


def model_features(model: nn.Module) -> dict[str, float]:
    """Every weight-statistic feature of ``model``: one SVD per 2-D weight (conv kernels flattened), in float64."""
    tensors = decompose(model)
    matrices = []
    for t in tensors:
        matrix = t.matrix()
        if matrix is None or t.kind == "bias":
            continue
        matrices.append((t.role, t.layer, matrix_statistics(singular_values(matrix, t.name), tuple(matrix.shape))))
    return {**structural_counts(tensors), **aggregate(matrices)}
