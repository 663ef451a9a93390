"""Rank quality of a proxy: signed Spearman, Kendall tau-b, Kendall among near-equal sizes, top-10% precision.

All are oriented so that higher is better (the benchmark's target already is). A proxy that is constant or not finite
on the evaluated set gets NaN with a reason, never a crash and never 0.

Two sizes, two size controls:
- ``kendall_iso_params``: Kendall over the pairs whose *total* parameter counts differ by less than 10%. On the LTS
  spaces the total is dominated by the adaptive embedding, so there it pairs models of similar vocabulary tables,
  not similar models; it is kept for one release, documented as such.
- ``kendall_size_matched``: the same over pairs whose *non-embedding* parameter counts (outside the embeddings and
  the output head: LTS's and Kaplan et al.'s model size, the ``params`` proxy) differ by less than 10%, on every space;
  and ``partial_spearman``: the Spearman correlation of the proxy with the target once log(non-embedding size) is
  partialled out (the partial correlation of the three variables' ranks). Both say whether a proxy knows more than
  size; a count of parameters has partial Spearman 0 by construction.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

ISO_PARAMS_TOLERANCE = 0.1


@dataclass(frozen=True)
class RankQuality:
    """Rank quality of a proxy on a set of architectures (NaN with ``reason`` when undefined)."""
    n: int
    spearman: float
    kendall: float
    kendall_iso_params: float
    top10_precision: float
    iso_pairs: int = 0
    reason: str | None = None
    kendall_size_matched: float = math.nan
    size_pairs: int = 0
    partial_spearman: float = math.nan

    def as_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


def fold_rows(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """Row indices of ``folds`` disjoint folds of ``n`` rows, shuffled by ``seed``: the folds of a search's held-out
    estimate, and of every supervised reference scored beside it (the same seed, the same folds)."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[k::folds]) for k in range(folds)]


def kendall_tau_b_pairs(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray) -> float:
    """Kendall tau-b restricted to the pairs (i[k], j[k]): (C - D) / sqrt((P - Tx) (P - Ty))."""
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    pairs = len(i)
    tied_x, tied_y = np.count_nonzero(dx == 0), np.count_nonzero(dy == 0)
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return float(np.sum(dx * dy) / denominator) if denominator > 0 else math.nan


def iso_param_pairs(n_params: np.ndarray, tolerance: float = ISO_PARAMS_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j whose parameter counts differ by less than ``tolerance`` of the larger one."""
    i, j = np.triu_indices(len(n_params), k=1)
    p, q = n_params[i], n_params[j]
    larger = np.maximum(p, q)
    keep = np.abs(p - q) < tolerance * np.where(larger > 0, larger, 1)
    return i[keep], j[keep]


def top_fraction_precision(scores: np.ndarray, target: np.ndarray, fraction: float = 0.1) -> float:
    """Share of the proxy's top ``fraction`` that is also in the target's top ``fraction``."""
    k = max(1, int(round(fraction * len(scores))))
    top_proxy = set(np.argsort(-scores, kind="stable")[:k])
    top_target = set(np.argsort(-target, kind="stable")[:k])
    return len(top_proxy & top_target) / k


def partial_spearman(scores: np.ndarray, target: np.ndarray, size: np.ndarray) -> float:
    """Spearman correlation of ``scores`` with ``target`` given ``size`` (ranks, so log size and size are alike):
    (r_st - r_sz r_tz) / sqrt((1 - r_sz^2)(1 - r_tz^2)). A proxy ordered exactly as size gets 0 (it knows nothing
    beyond size); NaN when the target is (nothing is left to explain)."""
    r_st = stats.spearmanr(scores, target).statistic
    r_sz = stats.spearmanr(scores, size).statistic
    r_tz = stats.spearmanr(target, size).statistic
    if not (np.isfinite(r_sz) and np.isfinite(r_tz)) or 1 - r_tz ** 2 <= 1e-12:
        return math.nan
    if 1 - r_sz ** 2 <= 1e-12:
        return 0.0
    denominator = (1 - r_sz ** 2) * (1 - r_tz ** 2)
    return float((r_st - r_sz * r_tz) / math.sqrt(denominator))


def rank_quality(scores, target, n_params=None, size=None) -> RankQuality:
    """Signed Spearman, Kendall tau-b, iso-params Kendall, top-10% precision and, given the non-embedding ``size``,
    size-matched Kendall and partial Spearman of ``scores`` against ``target``."""
    scores = np.asarray(scores, dtype=float)
    target = np.asarray(target, dtype=float)
    n = len(scores)
    if n != len(target):
        raise ValueError(f"{n} scores for {len(target)} targets")
    reason = None
    if n < 3:
        reason = f"only {n} architectures; rank correlations need at least 3"
    elif not np.all(np.isfinite(scores)):
        reason = f"{np.count_nonzero(~np.isfinite(scores))} of {n} scores are not finite"
    elif np.all(scores == scores[0]):
        reason = "the proxy is constant on these architectures"
    if reason:
        return RankQuality(n, math.nan, math.nan, math.nan, math.nan, 0, reason)
    spearman = float(stats.spearmanr(scores, target).statistic)
    kendall = float(stats.kendalltau(scores, target, variant="b").statistic)
    iso, pairs = math.nan, 0
    if n_params is not None:
        i, j = iso_param_pairs(np.asarray(n_params, dtype=float))
        pairs = len(i)
        if pairs:
            iso = kendall_tau_b_pairs(scores, target, i, j)
    matched, size_pairs, partial = math.nan, 0, math.nan
    if size is not None:
        size = np.asarray(size, dtype=float)
        i, j = iso_param_pairs(size)
        size_pairs = len(i)
        if size_pairs:
            matched = kendall_tau_b_pairs(scores, target, i, j)
        if np.ptp(size) > 0:
            partial = partial_spearman(scores, target, size)
    return RankQuality(n, spearman, kendall, iso, top_fraction_precision(scores, target), pairs, None, matched,
                       size_pairs, partial)


def table_quality(scores, table) -> RankQuality:
    """``rank_quality`` of scores of a feature table's rows: its target, total count and non-embedding size."""
    size = table["params_nonembedding"] if "params_nonembedding" in table else None
    return rank_quality(scores, table["target"], table["n_params"], size)


def _statistic(kind: str):
    if kind == "kendall":
        return lambda x, y: stats.kendalltau(x, y, variant="b").statistic
    if kind == "spearman":
        return lambda x, y: stats.spearmanr(x, y).statistic
    raise ValueError(f"statistic must be kendall or spearman, got {kind!r}")


def paired_difference(a, b, target, statistic: str = "kendall", resamples: int = 2000,
                      seed: int = 0) -> dict[str, float]:
    """``statistic(a, target) - statistic(b, target)`` and its 95% interval by a paired bootstrap over the
    architectures (percentile, seeded): an interval that holds 0 is a difference the sampling of architectures could
    make. ``a`` may be 2-D (one row per search seed): its statistic is then the mean over the rows.

    Returns
    -------
    dict
        ``difference``, ``low``, ``high``.
    """
    a = np.atleast_2d(np.asarray(a, dtype=float))
    b, target = np.asarray(b, dtype=float), np.asarray(target, dtype=float)
    measure = _statistic(statistic)

    def difference(index):
        index = index.astype(int)
        return float(np.mean([measure(row[index], target[index]) for row in a]) - measure(b[index], target[index]))
    observed = difference(np.arange(len(b)))
    interval = stats.bootstrap((np.arange(len(b), dtype=float),), difference, vectorized=False,
                               n_resamples=resamples, method="percentile",
                               rng=np.random.default_rng(seed)).confidence_interval
    return {"difference": observed, "low": float(interval.low), "high": float(interval.high)}
