"""Mixed sub-networks at a fixed weight budget: blocks, heads and channel groups removed together.

A pruner who may remove any unit faces candidates that differ in *what* they remove, not in how much: here every
candidate of a mixed space removes the same share of the blocks' weights, within ``TOLERANCE`` of it, so size is
matched by construction and no count can rank them. A unit's weight count is measured on the model itself (the
parameters one removal of it takes away), so biases and norms count as the surgery removes them. Candidates are
drawn by a seeded sampler: a composition (how many blocks, heads and groups) uniformly among those that meet the
budget, then which units, uniformly among those that keep a head and a group in every kept block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from ...errors import ConfigError
from .space import FFN_GROUPS, blocks_of, make_id, subnetwork

TOLERANCE = 0.01          # a candidate's removed weights are within 1% of the budget
ATTEMPTS_PER_CANDIDATE = 50


@dataclass(frozen=True)
class UnitWeights:
    """The weights one block, one head and one channel group hold, measured by removing each from the model."""
    block: int
    head: int
    group: int
    n_layers: int
    n_heads: int

    def removed(self, blocks: int, heads: int, groups: int) -> int:
        """The weights a candidate removing that many of each unit takes away (blocks are alike in these models)."""
        return blocks * self.block + heads * self.head + groups * self.group


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def unit_weights(model: nn.Module, n_heads: int) -> UnitWeights:
    """Measure ``UnitWeights`` of ``model`` (three surgeries on block 0)."""
    full = _count(model)
    return UnitWeights(block=full - _count(subnetwork(model, "drop-0", n_heads)),
                       head=full - _count(subnetwork(model, "heads-0.0", n_heads)),
                       group=full - _count(subnetwork(model, "ffn-0.0", n_heads)),
                       n_layers=len(blocks_of(model)), n_heads=n_heads)


def compositions(weights: UnitWeights, share: float) -> list[tuple[int, int, int]]:
    """Every (blocks, heads, groups) count whose removed weights are within ``TOLERANCE`` of ``share`` of the
    blocks' weights, keeping a head and a group in every kept block and at least one block."""
    if not 0 < share < 1:
        raise ConfigError(f"the weight budget must be a share in (0, 1), got {share!r}")
    budget = share * weights.n_layers * weights.block
    out = []
    for blocks in range(0, min(int(budget // weights.block), weights.n_layers - 1) + 1):
        kept = weights.n_layers - blocks
        for groups in range(kept * (FFN_GROUPS - 1) + 1):
            for heads in range(kept * (weights.n_heads - 1) + 1):
                if abs(weights.removed(blocks, heads, groups) - budget) <= TOLERANCE * budget:
                    out.append((blocks, heads, groups))
    if not out:
        raise ConfigError(f"no mix of blocks ({weights.block:,} weights), heads ({weights.head:,}) and channel "
                          f"groups ({weights.group:,}) removes {share:.0%} of the blocks' weights within "
                          f"{TOLERANCE:.0%}; ask for another share")
    return out


def _draw(rng: np.random.Generator, composition: tuple[int, int, int], weights: UnitWeights) -> str:
    blocks, heads, groups = composition
    dropped = sorted(rng.choice(weights.n_layers, size=blocks, replace=False).tolist()) if blocks else []
    kept = [b for b in range(weights.n_layers) if b not in dropped]
    units = [("depth", b) for b in dropped]
    for kind, count, width in (("heads", heads, weights.n_heads), ("ffn", groups, FFN_GROUPS)):
        # uniform among removals that leave a unit in every kept block: at most width - 1 slots per block
        slots = [(b, i) for b in kept for i in range(width - 1)]
        chosen = rng.choice(len(slots), size=count, replace=False) if count else []
        per_block: dict[int, int] = {}
        for index in sorted(int(i) for i in chosen):
            per_block[slots[index][0]] = per_block.get(slots[index][0], 0) + 1
        for b, n in per_block.items():   # which of the block's units: any n of its width
            units += [(kind, (b, int(i))) for i in sorted(rng.choice(width, size=n, replace=False).tolist())]
    return make_id("mixed", units)


def mixed_ids(model: nn.Module, n_heads: int, share: float = 0.25, limit: int = 200, seed: int = 0) -> list[str]:
    """Up to ``limit`` distinct mixed sub-network ids of ``model`` that remove ``share`` of its blocks' weights
    (within ``TOLERANCE``), drawn by a generator seeded by ``seed``: the same ids on every machine. Fewer where
    the budget allows fewer distinct sub-networks."""
    weights = unit_weights(model, n_heads)
    options = compositions(weights, share)
    rng = np.random.default_rng(seed)
    chosen: dict[str, None] = {}
    for _ in range(limit * ATTEMPTS_PER_CANDIDATE):
        if len(chosen) >= limit:
            break
        chosen.setdefault(_draw(rng, options[int(rng.integers(len(options)))], weights))
    return sorted(chosen)
