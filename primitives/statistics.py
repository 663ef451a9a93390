"""Per-matrix statistics, all computed from one set of singular values (float64).

Each statistic is registered once with its name, function and description; a duplicate name is an error. A function
takes the singular values ``s`` (descending) and the matrix shape ``(m, n)`` and returns a float that is defined for
every finite matrix, the zero matrix included (documented per statistic).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

Shape = tuple[int, int]


@dataclass(frozen=True)
class Statistic:
    """A per-matrix statistic: name, function of (singular values, shape), description, and how a layer combines it."""
    name: str
    function: Callable[[np.ndarray, Shape], float]
    description: str
    combine: str = "sum"   # how a layer's matrices of one role combine: "sum" (additive) or "max"


STATISTICS: dict[str, Statistic] = {}


def register(name: str, description: str, combine: str = "sum"):
    """Decorator registering a statistic under ``name`` (a duplicate name is an error)."""
    def decorator(function: Callable[[np.ndarray, Shape], float]):
        if name in STATISTICS:
            raise ValueError(f"statistic {name!r} is registered twice")
        if combine not in ("sum", "max"):
            raise ValueError(f"combine must be 'sum' or 'max', got {combine!r}")
        STATISTICS[name] = Statistic(name, function, description, combine)
        function.__doc__ = function.__doc__ or description
        return function
    return decorator


def _energy(s: np.ndarray) -> np.ndarray:
    return s * s


@register("numel", "number of entries m * n")
def numel(s, shape):
    return float(shape[0] * shape[1])


@register("fro2", "squared Frobenius norm ||W||_F^2 = sum s_i^2")
def fro2(s, shape):
    return float(_energy(s).sum())


@register("capacity", "fro2 / min(m, n): ZeroLM's module capacity")
def capacity(s, shape):
    return float(_energy(s).sum() / min(shape))


@register("nuclear", "nuclear norm sum s_i")
def nuclear(s, shape):
    return float(s.sum())


@register("spectral", "spectral norm s_max (0 for the zero matrix)", combine="max")
def spectral(s, shape):
    return float(s[0]) if s.size else 0.0


@register("stable_rank", "stable rank fro2 / s_max^2 (0 for the zero matrix)")
def stable_rank(s, shape):
    # relative to s_max, so that a matrix of tiny entries (whose s_max^2 underflows) still has a defined value
    return float(np.sum((s / s[0]) ** 2)) if s.size and s[0] > 0 else 0.0


@register("eff_rank", "effective rank exp(entropy of s / sum s) (0 for the zero matrix)")
def eff_rank(s, shape):
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s[s > 0] / total
    return float(math.exp(-(p * np.log(p)).sum()))


@register("logdet", "spectral capacity sum log(1 + s_i^2) of the matrix as initialised")
def logdet(s, shape):
    return float(np.log1p(_energy(s)).sum())


@register("logdet_xavier", "sum log(1 + s_i^2) with W rescaled to Xavier variance 2 / (m + n) (NSC's convention; "
                           "0 for the zero matrix)")
def logdet_xavier(s, shape):
    m, n = shape
    energy = _energy(s)
    variance = energy.sum() / (m * n)
    if variance <= 0:
        return 0.0
    return float(np.log1p(energy * (2.0 / (m + n)) / variance).sum())


def components_holding(energy: np.ndarray, fraction: float = 0.99) -> int:
    """How many of the (descending) ``energy`` values it takes to reach ``fraction`` of their sum; 0 if it is 0."""
    total = energy.sum()
    if total <= 0:
        return 0
    return int(np.searchsorted(np.cumsum(energy) / total, fraction - 1e-12) + 1)


@register("pca99", "how many singular values hold 99% of the energy sum s_i^2 (0 for the zero matrix)")
def pca99(s, shape):
    return float(components_holding(_energy(s)))


@register("log_cond", "log(s_max / s_min) over min(m, n) singular values, s_min floored at 1e-12 s_max "
                      "(0 for the zero matrix)", combine="max")
def log_cond(s, shape):
    if not s.size or s[0] <= 0:
        return 0.0
    floor = s[0] * 1e-12
    if floor == 0:   # a subnormal s_max: its floor underflows to 0; the same ratio, taken in logs
        return float(min(math.log(s[0]) - math.log(s[-1]) if s[-1] > 0 else math.inf, math.log(1e12)))
    return float(math.log(s[0] / max(s[-1], floor)))


def singular_values(matrix: torch.Tensor, name: str = "matrix") -> np.ndarray:
    """Singular values of a 2-D tensor in float64, descending; a non-finite matrix is a clear error."""
    m = matrix.detach().to(torch.float64)
    if not torch.isfinite(m).all():
        raise ValueError(f"{name} {tuple(matrix.shape)} has non-finite entries; its spectrum is undefined. Check the "
                         "model's initialisation or weights.")
    if m.shape[0] < m.shape[1]:
        m = m.T  # same singular values; LAPACK is faster on tall matrices
    return torch.linalg.svdvals(m).cpu().numpy()


def gram_eigenvalues(matrix: torch.Tensor) -> torch.Tensor:
    """Squared singular values of a 2-D tensor, ascending, in its dtype: the eigenvalues of the smaller Gram matrix,
    several times cheaper than an SVD; rounding can leave them slightly negative, so they are clamped at 0."""
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    return torch.linalg.eigvalsh(gram).clamp_min(0)


def matrix_statistics(s: np.ndarray, shape: Shape, names: list[str] | None = None) -> dict[str, float]:
    """Every registered statistic of one matrix from its singular values ``s`` and ``shape``."""
    return {name: STATISTICS[name].function(s, shape) for name in (names or STATISTICS)}
