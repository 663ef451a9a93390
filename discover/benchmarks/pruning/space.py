"""Sub-networks of a trained model: their ids, and the model with those units removed.

An id names what is removed, so it reads the same for every reference model:

- ``drop-3-7``: blocks 3 and 7 removed (depth pruning; blocks counted from 0 at the input);
- ``heads-2.1-5.0``: head 1 of block 2 and head 0 of block 5 removed;
- ``ffn-0.3-6.1``: channel group 3 of block 0's feed-forward and group 1 of block 6's removed (``FFN_GROUPS`` equal
  groups of contiguous hidden channels per block);
- ``mix-d3-h2.1-f0.3``: a mixed sub-network - block 3, head 1 of block 2 and channel group 3 of block 0 removed
  (``d``, ``h`` and ``f`` units, in that order, each in increasing order; no head or group of a removed block).
  Mixed candidates remove the same share of the blocks' weights (``mixed.mixed_ids``), so they are of equal size
  by construction whatever mix of units they remove.

Removal is surgery on a copy of the reference model, never retraining: a block leaves the layer list (the residual
stream passes it by); a head's query, key and value rows and its output-projection columns are cut; a channel
group's input-projection rows (and gate rows) and output-projection columns are cut. The model that results is
smaller, so its weight statistics are those of the units it keeps. Candidates of one space remove the same number
of units, so they are of equal size; ``space_ids`` lists them: every subset where there are at most ``limit`` of
a removal count, else a sample seeded by ``seed``.
"""
from __future__ import annotations

import copy
import itertools
import math
import re
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import ConfigError, DataError

UNIT_KINDS = ("depth", "heads", "ffn")       # one kind of unit removed per candidate
KINDS = (*UNIT_KINDS, "mixed")               # mixed: blocks, heads and groups together, at a weight budget
FFN_GROUPS = 4
ID_PATTERN = {"depth": re.compile(r"drop(-\d{1,4})+"), "heads": re.compile(r"heads(-\d{1,4}\.\d{1,4})+"),
              "ffn": re.compile(r"ffn(-\d{1,4}\.\d{1,4})+"),
              "mixed": re.compile(r"mix(-d\d{1,4})*(-h\d{1,4}\.\d{1,4})*(-f\d{1,4}\.\d{1,4})*")}
PLAIN_PREFIX = {"depth": "drop", "heads": "heads", "ffn": "ffn"}
MIXED_PREFIX = {"depth": "d", "heads": "h", "ffn": "f"}   # a mixed id's (and unit table's) key of each unit kind


def parse_id(arch_id: str) -> tuple[str, tuple]:
    """(kind, removed units) of a sub-network id: blocks as ints, heads and groups as (block, index) pairs; for a
    mixed id, (unit kind, unit) pairs."""
    for kind, pattern in ID_PATTERN.items():
        if pattern.fullmatch(arch_id):
            parts = arch_id.split("-")[1:]
            if kind == "mixed":
                return kind, _parse_mixed(arch_id, parts)
            units = tuple(int(p) for p in parts) if kind == "depth" else \
                tuple(tuple(int(x) for x in p.split(".")) for p in parts)
            if len(set(units)) != len(units) or list(units) != sorted(units):
                raise DataError(f"sub-network id {arch_id!r}: units must be distinct and in increasing order")
            return kind, units
    raise DataError(f"{arch_id!r} is not a sub-network id (drop-3-7, heads-2.1-5.0 or ffn-0.3-6.1)")


def _parse_mixed(arch_id: str, parts: list[str]) -> tuple:
    if not parts:
        raise DataError(f"sub-network id {arch_id!r} removes nothing")
    units = []
    for kind in UNIT_KINDS:     # each kind's units read (and checked) as that kind's own id
        texts = [p[1:] for p in parts if p[0] == MIXED_PREFIX[kind]]
        if texts:
            units += [(kind, u) for u in parse_id(PLAIN_PREFIX[kind] + "-" + "-".join(texts))[1]]
    dropped = {u for k, u in units if k == "depth"}
    inside = [u for k, u in units if k != "depth" and u[0] in dropped]
    if inside:
        raise DataError(f"sub-network id {arch_id!r} removes a head or group of block {inside[0][0]}, which it "
                        "removes whole; name the block once")
    return tuple(units)


def make_id(kind: str, units) -> str:
    """The id of removing ``units`` (sorted) of ``kind`` (for ``mixed``: (unit kind, unit) pairs)."""
    if kind == "mixed":
        parts = [MIXED_PREFIX[k] + (str(u) if k == "depth" else f"{u[0]}.{u[1]}")
                 for k in UNIT_KINDS for u in sorted(u for kk, u in units if kk == k)]
        return "-".join(["mix", *parts])
    units = sorted(units)
    if kind == "depth":
        return "drop-" + "-".join(str(u) for u in units)
    return PLAIN_PREFIX[kind] + "-" + "-".join(f"{b}.{i}" for b, i in units)


def _leaves_every_block(units: tuple, width: int) -> bool:
    """Whether a head or channel-group removal keeps at least one unit in every block (removing all of a block's
    heads is depth pruning, and a block with no feed-forward channel is not a block)."""
    per_block: dict[int, int] = {}
    for block, _ in units:
        per_block[block] = per_block.get(block, 0) + 1
    return max(per_block.values()) < width


def _choose(units: list, count: int, limit: int, rng: np.random.Generator, width: int | None) -> list[tuple]:
    valid = (lambda c: True) if width is None else (lambda c: _leaves_every_block(c, width))
    total = math.comb(len(units), count)
    if total <= limit:
        return [c for c in itertools.combinations(units, count) if valid(c)]
    chosen: set[tuple] = set()
    while len(chosen) < limit:   # rejection sampling: limit is far below total, so this ends fast
        pick = tuple(units[i] for i in sorted(rng.choice(len(units), size=count, replace=False).tolist()))
        if valid(pick):
            chosen.add(pick)
    return sorted(chosen)


def space_ids(kind: str, n_layers: int, n_heads: int, *, counts: tuple[int, ...] | None = None,
              limit: int = 300, seed: int = 0) -> list[str]:
    """The sub-network ids of one pruning space of a model with ``n_layers`` blocks of ``n_heads`` heads.

    ``counts``: how many units a candidate removes (default: depth 1 .. n_layers // 2, every count; heads and ffn
    one quarter of all units). At most ``limit`` candidates per count: all subsets where there are no more, else a
    sample seeded by ``seed`` (the same ids for the same arguments on every machine)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown pruning kind {kind!r}; one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    if kind == "depth":
        units: list = list(range(n_layers))
        counts = counts or tuple(range(1, n_layers // 2 + 1))
        per_count = max(1, limit // len(counts))
        width = None
    else:
        width = n_heads if kind == "heads" else FFN_GROUPS
        units = [(b, i) for b in range(n_layers) for i in range(width)]
        counts = counts or (len(units) // 4,)
        per_count = limit
    for count in counts:
        if not 0 < count < len(units):
            raise ConfigError(f"removing {count} of {len(units)} {kind} units leaves nothing or removes nothing")
    return [make_id(kind, units_) for count in counts for units_ in _choose(units, count, per_count, rng, width)]


# --- surgery -----------------------------------------------------------------------------------------------------

def blocks_of(model: nn.Module) -> nn.ModuleList:
    """The model's list of Transformer blocks (the first ModuleList of ...Layer / ...Block modules)."""
    from ..hf import _layer_lists
    stacks = _layer_lists(model)
    if not stacks:
        raise DataError(f"cannot find the blocks of this {type(model).__name__}")
    return stacks[0]


def _set_blocks(model: nn.Module, kept: nn.ModuleList) -> None:
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            if child is blocks_of(model):
                setattr(module, child_name, kept)
                return


def _attention_parts(block: nn.Module) -> dict[str, Any]:
    """The attention projections of a block: Llama-style (q, k, v, o: nn.Linear) or GPT-2 (c_attn, c_proj:
    Conv1D, weights stored (in, out))."""
    attn = getattr(block, "self_attn", None) or getattr(block, "attn", None)
    if attn is None:
        raise DataError(f"cannot find the attention of a {type(block).__name__}")
    return {"module": attn, "head_dim": int(attn.head_dim)}


def _cut_linear(layer: nn.Module, keep: torch.Tensor, dim: int) -> None:
    """Keep the output features (``dim=0``) or input features (``dim=1``) ``keep`` of an nn.Linear or a GPT-2
    Conv1D (whose weight is stored transposed)."""
    conv1d = type(layer).__name__ == "Conv1D"
    axis = (1 - dim) if conv1d else dim
    with torch.no_grad():
        layer.weight = nn.Parameter(layer.weight.index_select(axis, keep).clone())
        if layer.bias is not None and dim == 0:
            layer.bias = nn.Parameter(layer.bias.index_select(0, keep).clone())
    if conv1d:
        layer.nf = layer.weight.shape[1]
    else:
        layer.out_features, layer.in_features = layer.weight.shape


def _remove_heads(block: nn.Module, heads: list[int], n_heads: int) -> None:
    parts = _attention_parts(block)
    attn, dim = parts["module"], parts["head_dim"]
    kept_heads = [h for h in range(n_heads) if h not in heads]
    keep = torch.tensor([h * dim + j for h in kept_heads for j in range(dim)])
    if hasattr(attn, "c_attn"):   # GPT-2: one projection for q, k and v, side by side
        width = attn.c_attn.weight.shape[1] // 3
        _cut_linear(attn.c_attn, torch.cat([keep, keep + width, keep + 2 * width]), 0)
        _cut_linear(attn.c_proj, keep, 1)
        attn.split_size = len(keep)
        attn.num_heads = len(kept_heads)
        attn.embed_dim = len(keep)
    else:
        if getattr(attn, "num_key_value_groups", 1) != 1:
            raise ConfigError("head removal with grouped key/value heads is not supported")
        for name in ("q_proj", "k_proj", "v_proj"):
            _cut_linear(getattr(attn, name), keep, 0)
        _cut_linear(attn.o_proj, keep, 1)
    attn.zc_heads = len(kept_heads)


def _remove_groups(block: nn.Module, groups: list[int]) -> None:
    mlp = block.mlp
    if hasattr(mlp, "down_proj"):   # Llama: down(act(gate(x)) * up(x))
        width = mlp.down_proj.weight.shape[1]
        inputs, output = [mlp.gate_proj, mlp.up_proj], mlp.down_proj
    else:                           # GPT-2: c_proj(act(c_fc(x)))
        width = mlp.c_fc.weight.shape[1]
        inputs, output = [mlp.c_fc], mlp.c_proj
    size = width // FFN_GROUPS
    keep = torch.tensor([c for c in range(width) if c // size not in groups or c // size >= FFN_GROUPS])
    for layer in inputs:
        _cut_linear(layer, keep, 0)
    _cut_linear(output, keep, 1)


def subnetwork(model: nn.Module, arch_id: str, n_heads: int) -> nn.Module:
    """A copy of ``model`` with the units ``arch_id`` names removed (see the module docstring)."""
    kind, units = parse_id(arch_id)
    by_kind = {k: [u for kk, u in units if kk == k] for k in UNIT_KINDS} if kind == "mixed" else {kind: list(units)}
    n_layers = len(blocks_of(model))
    for unit_kind, kind_units in by_kind.items():
        _check_units(arch_id, unit_kind, kind_units, n_layers, n_heads)
    sub = copy.deepcopy(model)
    sub_blocks = blocks_of(sub)
    for unit_kind in ("heads", "ffn"):   # within the blocks first, by the full model's block numbers
        by_block: dict[int, list[int]] = {}
        for b, i in by_kind.get(unit_kind, []):
            by_block.setdefault(b, []).append(i)
        for b, which in by_block.items():
            if unit_kind == "heads":
                _remove_heads(sub_blocks[b], which, n_heads)
            else:
                _remove_groups(sub_blocks[b], which)
    dropped = by_kind.get("depth", [])
    if dropped:                          # blocks last: the numbers above still name the same blocks
        _set_blocks(sub, nn.ModuleList([b for i, b in enumerate(sub_blocks) if i not in dropped]))
    sub.eval()
    return sub


def _check_units(arch_id: str, kind: str, units: list, n_layers: int, n_heads: int) -> None:
    """A DataError for a unit the model does not have, or a removal that leaves a block (or the model) empty."""
    bad = [u for u in units if (u if kind == "depth" else u[0]) >= n_layers]
    if kind != "depth":
        width = n_heads if kind == "heads" else FFN_GROUPS
        bad += [u for u in units if u[1] >= width]
    if bad:
        raise DataError(f"sub-network {arch_id!r} names unit {bad[0]} of a model with {n_layers} blocks")
    if kind == "depth" and len(units) >= n_layers:
        raise DataError(f"sub-network {arch_id!r} removes every block; at least one must stay")
    per_block: dict[int, int] = {}
    for b, _ in units if kind != "depth" else []:
        per_block[b] = per_block.get(b, 0) + 1
    full = [b for b, n in per_block.items() if n >= (n_heads if kind == "heads" else FFN_GROUPS)]
    if full and kind == "heads":
        raise DataError(f"sub-network {arch_id!r} removes every head of block {full[0]}; keep one or remove the "
                        "block (depth pruning)")
    if full:
        raise DataError(f"sub-network {arch_id!r} removes every channel group of block {full[0]}")
