"""Supervised references: regressions on the config fields, scored only by their cross-validated predictions.

They are not zero-cost proxies - they learn from trained quality - but they are the honest anchor for any method
that uses a space's own labels: a within-space search that does not beat a regression on the config has found size,
not more. Each architecture's score is the prediction of a model fitted on the *other* folds (5 folds drawn by the
seed, ``metrics.fold_rows``: the folds of a search with the same seed), so no architecture is scored by a model that
saw its label.

- ``config_linear``: ridge regression (scikit-learn, alpha 1) on the standardised ``features.config_fields``;
- ``config_gbr``: gradient-boosted trees (scikit-learn, 200 trees of depth 3, learning rate 0.05, seeded).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..features.config_fields import CONFIG_FIELDS, config_fields
from ..metrics import fold_rows
from .registry import ProxyContext, ProxyResult, register_proxy

SUPERVISED_FOLDS = 5
SUPERVISED = ("config_linear", "config_gbr")


def regressor(kind: str, seed: int = 0):
    """A fresh, unfitted scikit-learn pipeline of the reference ``kind`` (``linear`` or ``gbr``)."""
    try:
        from sklearn.ensemble import GradientBoostingRegressor
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ConfigError("the supervised references need scikit-learn: python -m pip install scikit-learn") from None
    if kind == "linear":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    if kind == "gbr":
        return GradientBoostingRegressor(n_estimators=200, max_depth=3, learning_rate=0.05, random_state=seed)
    raise ConfigError(f"unknown supervised reference {kind!r}; linear or gbr")


def usable_fields(fields: pd.DataFrame) -> list[str]:
    """The config fields every row holds and that are not constant (a constant field carries nothing)."""
    return [c for c in CONFIG_FIELDS if c in fields and fields[c].notna().all() and fields[c].nunique() > 1]


def cross_validated(fields: pd.DataFrame, target: np.ndarray, kind: str, seed: int = 0,
                    folds: int = SUPERVISED_FOLDS) -> np.ndarray:
    """Each row's prediction by a ``kind`` model fitted on the other folds (``fold_rows(n, folds, seed)``)."""
    columns = usable_fields(fields)
    if not columns:
        raise ConfigError("no config field varies over these architectures; a regression on the config has "
                          "nothing to read")
    X, y = fields[columns].to_numpy(float), np.asarray(target, dtype=float)
    if len(y) < 2 * folds:
        raise ConfigError(f"{len(y)} architectures are too few for {folds}-fold predictions")
    predictions = np.full(len(y), np.nan)
    for test in fold_rows(len(y), folds, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        model = regressor(kind, seed).fit(X[train], y[train])
        predictions[test] = model.predict(X[test])
    return predictions


def other_spaces(train: list[tuple[pd.DataFrame, np.ndarray]], test: pd.DataFrame, kind: str,
                 seed: int = 0) -> np.ndarray:
    """Predictions for the ``test`` space's config fields by a ``kind`` model fitted on other spaces' fields and
    targets (each space's target as its within-space rank in (0, 1]: the spaces' metrics differ), on the fields
    every one of them holds - a leave-one-space-out supervised reference."""
    from scipy import stats
    frames = [fields for fields, _ in train]
    columns = [c for c in CONFIG_FIELDS if all(c in usable_fields(f) for f in frames) and c in usable_fields(test)]
    if not columns:
        raise ConfigError("the spaces share no config field that varies; nothing to fit across them")
    X = np.vstack([f[columns].to_numpy(float) for f in frames])
    y = np.concatenate([stats.rankdata(t) / len(t) for _, t in train])
    return regressor(kind, seed).fit(X, y).predict(test[columns].to_numpy(float))


def _context_fields(ctx: ProxyContext) -> pd.DataFrame:
    configs = {str(i): ctx.benchmark.arch(str(i)).config for i in ctx.table["arch_id"]}
    return config_fields(ctx.table, configs)


def _supervised(ctx: ProxyContext, kind: str) -> ProxyResult:
    fields = _context_fields(ctx)
    folds = int(ctx.options.get("supervised_folds", SUPERVISED_FOLDS))
    scores = cross_validated(fields, ctx.table["target"].to_numpy(float), kind, ctx.seed, folds)
    return ProxyResult(scores, {"supervised": True, "fields": usable_fields(fields),
                                "note": f"supervised: {folds}-fold cross-validated predictions (seed {ctx.seed})"})


@register_proxy("config_linear", "supervised reference (not a proxy): ridge regression on the config fields",
                "cross-validated prediction of a ridge regression on the standardised config fields (log counts, "
                "depth, width, heads, FFN ratio); fitted on the other folds' labels", needs=("counts", "labels"))
def config_linear(ctx: ProxyContext) -> ProxyResult:
    return _supervised(ctx, "linear")


@register_proxy("config_gbr", "supervised reference (not a proxy): gradient boosting on the config fields",
                "cross-validated prediction of gradient-boosted trees on the config fields; fitted on the other "
                "folds' labels", needs=("counts", "labels"))
def config_gbr(ctx: ProxyContext) -> ProxyResult:
    return _supervised(ctx, "gbr")


__all__ = ["SUPERVISED", "SUPERVISED_FOLDS", "cross_validated", "other_spaces", "regressor", "usable_fields"]
