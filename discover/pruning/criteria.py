"""The pruning literature's criteria, as scores of candidate sub-networks (higher: the candidate should be better).

Each criterion scores a unit (``calibration.unit_statistics``) or a whole candidate; a candidate that removes
several units gets minus the sum of their importance, as the papers do when they remove units one by one by their
scores. On a mixed space (blocks, heads and groups removed together) the criteria whose statistic every unit kind
has sum it over all the removed units, as the papers that rank units of several kinds globally do (LLM-Pruner,
FLAP); the statistics are not rescaled per kind - removal loss is in nats for every unit, so it adds exactly.
Each names its paper and what it costs on top of the weights: forward (F) and backward (B) passes over the
calibration batch, per model (a fixed cost, whatever the number of candidates) or per candidate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..benchmarks.pruning.space import MIXED_PREFIX, parse_id
from ..errors import UnknownNameError


@dataclass(frozen=True)
class Criterion:
    """A published pruning criterion: its scores over a space's candidates, paper and cost."""
    name: str
    paper: str
    cost: str            # passes over the calibration batch
    kinds: tuple[str, ...]
    zero_cost: bool
    score: Callable[[pd.DataFrame, pd.DataFrame, str], np.ndarray]


def removed_units(arch_ids, kind: str) -> list[list[str]]:
    """The unit keys (``units`` index of ``unit_statistics``) each candidate removes."""
    def key(unit_kind, unit) -> str:
        return str(unit) if unit_kind == "depth" else f"{unit[0]}.{unit[1]}"
    out = []
    for arch_id in arch_ids:
        _, units = parse_id(arch_id)
        out.append([MIXED_PREFIX[k] + key(k, u) for k, u in units] if kind == "mixed" else
                   [key(kind, u) for u in units])
    return out


def _sum_removed(statistic: str, protect: bool = False):
    def score(candidates: pd.DataFrame, units: pd.DataFrame, kind: str) -> np.ndarray:
        values = units[statistic].astype(float).copy()
        if protect:   # Taylor+: the first and last blocks are never removed (scaled from 4 + 2 of LLaMA's 32)
            n = int(units["block"].max()) + 1
            first, last = max(1, round(4 * n / 32)), max(1, round(2 * n / 32))
            guarded = (units["block"] < first) | (units["block"] >= n - last)
            values[guarded] = values.abs().sum() + 1.0   # above any sum of unguarded units: ranked last
        return -np.array([values.loc[keys].sum() for keys in removed_units(candidates["arch_id"], kind)])
    return score


def _candidate_loss(candidates: pd.DataFrame, units: pd.DataFrame, kind: str) -> np.ndarray:
    return -candidates["calibration_loss"].to_numpy(float)


ALL = ("depth", "heads", "ffn", "mixed")
CRITERIA: dict[str, Criterion] = {c.name: c for c in [
    Criterion("sleb", "SLEB (Song et al., ICML 2024): a candidate's calibration perplexity", "1 F per candidate",
              ALL, False, _candidate_loss),
    Criterion("shortened_ppl", "Shortened LLaMA (Kim et al., 2024), PPL criterion: loss with the unit removed",
              "1 F per unit", ALL, False, _sum_removed("removal_loss")),
    Criterion("taylor_plus", "Shortened LLaMA (Kim et al., 2024), Taylor+: sum |w dL/dw| over the block, first "
              "and last blocks kept", "1 F + 1 B per model", ("depth",), False, _sum_removed("taylor", True)),
    Criterion("block_influence", "ShortGPT (Men et al., 2024): Block Influence, 1 - cos(in, out)",
              "1 F per model", ("depth",), False, _sum_removed("block_influence")),
    Criterion("angular_distance", "Gromov et al. (2024): angular distance between a block's input and output",
              "1 F per model", ("depth",), False, _sum_removed("angular_distance")),
    Criterion("magnitude", "magnitude: L2 norm of the unit's weights", "none (weights)", ALL, True,
              _sum_removed("magnitude")),
    Criterion("wanda", "Wanda (Sun et al., ICLR 2024): |W| times input norm, summed over the unit",
              "1 F per model", ALL, False, _sum_removed("wanda")),
    Criterion("flap", "FLAP (An et al., AAAI 2024): fluctuation of the output projection's input channels",
              "1 F per model", ALL, False, _sum_removed("fluctuation")),
    Criterion("taylor", "first-order Taylor, sum |w dL/dw| over the unit's weights", "1 F + 1 B per model",
              ("heads", "ffn", "mixed"), False, _sum_removed("taylor")),
    Criterion("llm_pruner", "LLM-Pruner (Ma et al., NeurIPS 2023): |sum w dL/dw| over the unit (first order)",
              "1 F + 1 B per model", ("heads", "ffn"), False, _sum_removed("taylor_group")),
]}


def criteria_for(kind: str) -> list[Criterion]:
    """The criteria that apply to a pruning kind, in the table's order."""
    return [c for c in CRITERIA.values() if kind in c.kinds]


def get_criterion(name: str) -> Criterion:
    """A criterion by name (``UnknownNameError`` with suggestions otherwise)."""
    if name not in CRITERIA:
        raise UnknownNameError("pruning criterion", name, CRITERIA)
    return CRITERIA[name]
