"""A pruning space as a feature table the search reads, and the rank quality that judges methods on it.

Rows are candidate sub-networks; ``target`` is minus the held-out loss. Columns are the weight features of the
sub-network (the units it keeps: the same primitives as every other space) and, per unit statistic, the sum, maximum
and minimum over the units it removes (``removed_<agg>_<statistic>``). Two arms: ``weights`` offers the statistics a
model's weights and structure give (zero-cost: magnitude and the removed units' depth), ``calibration`` adds every
statistic of the calibration batch (a fixed number of passes per model, ``calibration``). A candidate's own
calibration loss (SLEB's criterion, one pass per candidate) is never a feature.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .criteria import removed_units

ARMS = ("weights", "calibration")
ZERO_COST_UNIT_STATS = ("magnitude", "position")
NOT_COLUMNS = ("heldout_loss", "calibration_loss", "removed", "removed_weights", "loss_seconds", "seconds")


def space_table(candidates: pd.DataFrame, units: pd.DataFrame, kind: str, arm: str = "weights") -> pd.DataFrame:
    """The feature table of one stored space (see the module docstring)."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    table = candidates.drop(columns=[c for c in NOT_COLUMNS if c in candidates]).copy()
    target = -candidates["heldout_loss"].to_numpy(float) if "heldout_loss" in candidates else np.nan
    table.insert(1, "target", target)   # unknown (NaN) when candidates are only being scored
    wanted = ZERO_COST_UNIT_STATS if arm == "weights" else \
        [c for c in units.columns if c not in ("block", "index") and units[c].notna().all() and
         pd.api.types.is_numeric_dtype(units[c])]   # a mixed table's unit_kind names the kind, it is no statistic
    removed = removed_units(candidates["arch_id"], kind)
    extra = {}
    for statistic in wanted:
        values = units[statistic].astype(float)
        per = [values.loc[keys].to_numpy() for keys in removed]
        extra[f"removed_sum_{statistic}"] = [v.sum() for v in per]
        extra[f"removed_max_{statistic}"] = [v.max() for v in per]
        extra[f"removed_min_{statistic}"] = [v.min() for v in per]
    return pd.concat([table, pd.DataFrame(extra, index=table.index)], axis=1)


def equal_size_kendall(scores, target, removed) -> float:
    """Kendall tau-b within each group of candidates that remove the same number of units (of equal size), pooled
    by the number of pairs: how well a method ranks candidates a pruner actually chooses between."""
    scores, target, removed = (np.asarray(x, dtype=float) for x in (scores, target, removed))
    total, weight = 0.0, 0
    for count in np.unique(removed):
        rows = removed == count
        pairs = int(rows.sum()) * (int(rows.sum()) - 1) // 2
        if pairs == 0 or np.ptp(scores[rows]) == 0:
            continue
        tau = stats.kendalltau(scores[rows], target[rows], variant="b").statistic
        if np.isfinite(tau):
            total += tau * pairs
            weight += pairs
    return total / weight if weight else float("nan")


def equal_size_difference(a, b, target, removed, resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """``equal_size_kendall(a) - equal_size_kendall(b)`` and its 95% paired-bootstrap interval over candidates,
    resampled within each removal count (percentile, seeded)."""
    a, b, target, removed = (np.asarray(x, dtype=float) for x in (a, b, target, removed))
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(removed == c) for c in np.unique(removed)]
    observed = equal_size_kendall(a, target, removed) - equal_size_kendall(b, target, removed)
    draws = []
    for _ in range(resamples):
        index = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        draws.append(equal_size_kendall(a[index], target[index], removed[index]) -
                     equal_size_kendall(b[index], target[index], removed[index]))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return {"difference": float(observed), "low": float(low), "high": float(high)}
