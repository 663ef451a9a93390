"""Choosing the final formula from a Pareto front: the simplest one within ``delta`` of the best validation score."""
from __future__ import annotations

import math

import pandas as pd

DEFAULT_DELTA = 0.01


def one_standard_error(correlation: float, n: int) -> float:
    """Approximate standard error of a Spearman correlation on ``n`` items (Fisher z with Fieller's 1.03 factor,
    mapped back through dz/drho = 1 / (1 - rho^2)): the tolerance of the 'one standard error' selection rule."""
    if n <= 3 or not math.isfinite(correlation):
        return math.inf
    return (1.0 - min(correlation * correlation, 1.0)) * 1.03 / math.sqrt(n - 3)


def choose(front: pd.DataFrame, delta: float = DEFAULT_DELTA) -> pd.Series:
    """The formula to report from a front.

    ``front`` has columns ``complexity`` and ``validation`` (higher is better), and optionally ``train_mean`` (the
    mean training score over spaces) and ``tree`` (its text). Among the rows whose validation score is within
    ``delta`` of the best, the least complex wins; ties go to the better validation score, then the better
    ``train_mean``, then the alphabetically first ``tree``, then the first row - a stated rule, so that the choice
    never depends on the order in which a search met its candidates. Rows with a non-finite validation score are
    never chosen."""
    usable = front[front["validation"].map(lambda v: isinstance(v, (int, float)) and math.isfinite(v))]
    if usable.empty:
        raise ValueError("no formula on the front has a finite validation score")
    best = usable["validation"].max()
    near = usable[usable["validation"] >= best - delta]
    keys = near.assign(_neg_val=-near["validation"],
                       _neg_train=-near["train_mean"] if "train_mean" in near else 0.0,
                       _text=near["tree"].astype(str) if "tree" in near else "")
    order = keys.sort_values(["complexity", "_neg_val", "_neg_train", "_text"], kind="stable")
    return front.loc[order.index[0]]
