"""The sub-networks of a super-adapter as a space the search and the proxies read: weight features and targets.

A sub-network's features are the project's weight-statistic primitives (``features.table.featurize_model``: per
role - attention, FFN, embedding - norms, spectra, effective rank, log-det capacity, counts, FLOPs) of its
``materialize``-d encoder: each layer's adapters merged at the layer's rank, its left-out heads and FFN channels cut.
So every zero-cost weight proxy (ZeroLM, NSC, the counts) scores a sub-network from its own weights, as it would a
pruned model. Measuring them costs no forward pass: about a second per sub-network on one core.

``space_table`` joins them with the stored targets (``targets``) into one row per sub-network, the table
``search.driver.search_tables`` and ``proxies.evaluate.proxy_values`` read, with ``target`` the chosen target.
"""
from __future__ import annotations

import time
from typing import Sequence

import pandas as pd

from ..benchmarks import hf
from ..features.table import featurize_model
from ..formula import TARGET_PREFIX
from .elastic import ElasticEncoder, SubNetwork, materialize


def subnetwork_features(model: ElasticEncoder, sub: SubNetwork) -> dict[str, float]:
    """The weight features of sub-network ``sub`` (its materialized encoder; the classification head, shared by
    every sub-network, is left out), with ``seconds``, the time they took."""
    started = time.perf_counter()
    plain = hf.tag_model(materialize(model, sub))
    features = featurize_model(plain)
    features["seconds"] = time.perf_counter() - started
    return features


def features_table(model: ElasticEncoder, subs: Sequence[SubNetwork]) -> pd.DataFrame:
    """``subnetwork_features`` of every sub-network, one row each (``arch_id``: its name), in order."""
    rows = [{"arch_id": sub.name, **subnetwork_features(model, sub)} for sub in subs]
    return pd.DataFrame(rows)


def space_table(features: pd.DataFrame, targets: pd.DataFrame, target: str) -> pd.DataFrame:
    """One row per sub-network: ``arch_id``, ``target`` (the values of target ``target`` in the long ``targets``
    table), every other target as ``target:<name>`` (kept for reporting, never a feature) and the features.

    Raises
    ------
    KeyError
        For a target the table does not hold (its message lists those it does).
    """
    wide = targets.pivot(index="arch_id", columns="proxy", values="value")
    if target not in wide:
        raise KeyError(f"no target {target!r}; the stored ones: {', '.join(sorted(wide))}")
    frame = features.drop(columns=["seconds"], errors="ignore").set_index("arch_id")
    missing = frame.index.difference(wide.index)
    if len(missing):
        raise KeyError(f"{len(missing)} sub-networks have features but no targets (first: {missing[0]})")
    joined = pd.concat([wide.loc[frame.index, [target]].rename(columns={target: "target"}),
                        wide.loc[frame.index].add_prefix(TARGET_PREFIX), frame], axis=1)
    return joined.reset_index()


__all__ = ["features_table", "space_table", "subnetwork_features"]
