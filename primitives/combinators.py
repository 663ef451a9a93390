"""Sub-module combinators: per-matrix statistics -> per-layer values per role -> aggregates over layers.

Feature names are ``<agg>_<role>_<stat>`` (e.g. ``sum_ffn_logdet``) and the same for every model family, so a formula
found on one search space can be evaluated on another. Within one layer, a role's matrices combine by the statistic's
own rule (additive statistics sum, ``spectral`` and ``log_cond`` take the max); across layers, each aggregation
applies. Embedding and head parameters sit outside the layers and count as one group.

A role that a model lacks (e.g. ``mixing`` in a pure-attention model) gives 0 for every aggregate, so that sums stay
additive across roles; ``count_<role>`` tells present from absent.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from .statistics import STATISTICS

MATRIX_ROLES = ("embedding", "attention", "mixing", "ffn", "head")
AGGREGATIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
ABSENT_VALUE = 0.0


def feature_names(stats: Iterable[str] | None = None) -> list[str]:
    """Every ``<agg>_<role>_<stat>`` column name, for ``stats`` (default: all registered)."""
    stats = list(stats or STATISTICS)
    return [f"{agg}_{role}_{stat}" for role in MATRIX_ROLES for stat in stats for agg in AGGREGATIONS]


def aggregate(matrices: Iterable[tuple[str, int | None, dict[str, float]]],
              stats: Iterable[str] | None = None) -> dict[str, float]:
    """``matrices``: (role, layer, {stat: value}) per 2-D weight -> ``<agg>_<role>_<stat>`` and ``count_<role>``."""
    stats = list(stats or STATISTICS)
    per_layer: dict[tuple[str, str], dict[int | None, float]] = defaultdict(dict)
    for role, layer, values in matrices:
        for stat in stats:
            cell = per_layer[(role, stat)]
            value = values[stat]
            if layer not in cell:
                cell[layer] = value
            elif STATISTICS[stat].combine == "max":
                cell[layer] = max(cell[layer], value)
            else:
                cell[layer] += value
    features: dict[str, float] = {}
    for role in MATRIX_ROLES:
        for stat in stats:
            layer_values = per_layer.get((role, stat))
            for agg, function in AGGREGATIONS.items():
                features[f"{agg}_{role}_{stat}"] = (float(function(list(layer_values.values())))
                                                    if layer_values else ABSENT_VALUE)
        first = stats[0] if stats else None
        features[f"count_{role}"] = float(len(per_layer.get((role, first), {}))) if first else 0.0
    return features
