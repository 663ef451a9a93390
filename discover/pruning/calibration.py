"""What a calibration batch of real text says about each unit of a trained model: blocks, heads, channel groups.

One forward pass with hooks and one backward pass of the full model give, for every unit, the statistics the
pruning literature ranks units by; a further forward pass per unit gives the loss when that unit alone is removed.
All are measured on the reference model once, never per candidate sub-network: a candidate's score is then a sum
over the units it removes (``criteria``), so these methods cost a fixed number of passes per model.

Per block (``depth``):

- ``block_influence``: 1 - mean cosine between a block's input and output hidden states (ShortGPT, Men et al. 2024);
- ``angular_distance``: mean arccos of that cosine over pi (Gromov et al. 2024, for a span of one block);
- ``update_ratio``: mean ||out - in|| / ||in||, how far the block moves the residual stream;
- ``activation_norm``: mean ||out|| per token;
- ``attention_entropy``: mean entropy of the block's attention distributions;
- ``fluctuation``: FLAP's fluctuation (An et al. 2024): sum over the input channels of each output projection
  (attention's and the feed-forward's) of the channel's variance over tokens times its weight column's squared norm;
- ``wanda``: sum over the block's linear weights of |W_ij| ||X_j|| (Sun et al. 2024), the input norm over tokens;
- ``magnitude``: the L2 norm of the block's weights (no data);
- ``taylor``: sum of |w dL/dw| over the block's weights (Shortened LLaMA's Taylor, Kim et al. 2024);
- ``removal_loss``: calibration loss with the block removed, minus the full model's (Shortened LLaMA's PPL
  criterion, in nats).

Per head and per channel group (``heads``, ``ffn``): ``magnitude``, ``wanda``, ``fluctuation``, ``taylor`` (the
unit's own weights: a head's query, key, value rows and output columns; a group's input rows and output columns),
``taylor_group`` (|sum of w dL/dw| over the unit, LLM-Pruner's first-order group importance, Ma et al. 2023),
``activation_norm`` (norm of the unit's output-projection input) and ``removal_loss`` (the unit masked out).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..benchmarks.pruning.evaluate import mean_loss
from ..benchmarks.pruning.space import FFN_GROUPS, MIXED_PREFIX, UNIT_KINDS, blocks_of, make_id, subnetwork

BLOCK_STATS = ("block_influence", "angular_distance", "update_ratio", "activation_norm", "attention_entropy",
               "fluctuation", "wanda", "magnitude", "taylor", "removal_loss")
UNIT_STATS = ("magnitude", "wanda", "fluctuation", "taylor", "taylor_group", "activation_norm", "removal_loss")


@dataclass
class _Recorder:
    """Inputs of every linear layer (as sums over tokens) and each block's input and output."""
    inputs: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)   # id(layer) -> sums
    block_in: dict[int, torch.Tensor] = field(default_factory=dict)
    block_out: dict[int, torch.Tensor] = field(default_factory=dict)


def _linears(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"]


def _weight_in_out(layer: nn.Module) -> torch.Tensor:
    """The weight as (out, in), whatever the layer stores (GPT-2's Conv1D keeps (in, out))."""
    return layer.weight.t() if type(layer).__name__ == "Conv1D" else layer.weight


def _projections(block: nn.Module) -> dict[str, nn.Module]:
    """The block's attention output projection and its feed-forward input and output projections."""
    attn = getattr(block, "self_attn", None) or getattr(block, "attn")
    mlp = block.mlp
    if hasattr(mlp, "down_proj"):
        return {"attn_out": attn.o_proj, "ffn_in": [mlp.gate_proj, mlp.up_proj], "ffn_out": mlp.down_proj,
                "attn_in": [attn.q_proj, attn.k_proj, attn.v_proj], "attn": attn}
    return {"attn_out": attn.c_proj, "ffn_in": [mlp.c_fc], "ffn_out": mlp.c_proj, "attn_in": [attn.c_attn],
            "attn": attn}


def _hidden(output):
    return output[0] if isinstance(output, tuple) else output


def calibration_batch(ids: np.ndarray, seq_len: int = 128, count: int = 32) -> torch.Tensor:
    """``count`` evenly spaced windows of the calibration split (the same for every method)."""
    from ..benchmarks.pruning.evaluate import windows
    return windows(ids, seq_len, count)


def head_count(model: nn.Module) -> int:
    """The attention heads per block of a Hugging Face model, from its config (Llama's or GPT-2's name)."""
    config = model.config
    return int(getattr(config, "num_attention_heads", None) or getattr(config, "n_head"))


def unit_statistics(model: nn.Module, batch: torch.Tensor, kind: str, with_removal: bool = True) -> pd.DataFrame:
    """One row per unit of ``kind`` (``depth``: blocks; ``heads``; ``ffn``: channel groups) with the statistics of
    the module docstring, measured on ``batch`` (rows of ``seq_len + 1`` tokens). Index: ``unit`` (the block, or
    ``block.index``); columns: ``block``, ``position`` (the block's depth in [0, 1]) and the statistics. For
    ``mixed``: the three kinds' rows together, keyed as a mixed id names them (``d3``, ``h2.1``, ``f0.3``), with
    ``unit_kind``; a statistic a kind does not have (a block's influence, a group's entropy) is empty there."""
    if kind == "mixed":
        tables = {k: unit_statistics(model, batch, k, with_removal) for k in UNIT_KINDS}
        table = pd.concat([t.reset_index().assign(unit=MIXED_PREFIX[k] + t.index.astype(str), unit_kind=k)
                           for k, t in tables.items()], ignore_index=True).set_index("unit")
        table.attrs["calibration_loss"] = tables["depth"].attrs["calibration_loss"]
        return table
    model.eval()
    blocks = blocks_of(model)
    n_heads = head_count(model)
    recorder = _Recorder()
    handles = []
    for index, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(
            lambda m, args, kwargs, i=index: recorder.block_in.__setitem__(i, (args[0] if args else
                                                                               kwargs["hidden_states"]).detach()),
            with_kwargs=True))
        handles.append(block.register_forward_hook(
            lambda m, args, output, i=index: recorder.block_out.__setitem__(i, _hidden(output).detach())))
        for _, layer in _linears(block):
            def record(m, args, key=id(layer)):
                x = args[0].detach().reshape(-1, args[0].shape[-1]).double()
                sums = recorder.inputs.setdefault(key, {"n": 0, "s1": 0.0, "s2": 0.0})
                sums["n"] += x.shape[0]
                sums["s1"] = sums["s1"] + x.sum(0).numpy()
                sums["s2"] = sums["s2"] + (x * x).sum(0).numpy()
            handles.append(layer.register_forward_pre_hook(record))
    inputs, labels = batch[:, :-1], batch[:, 1:]
    try:
        model.zero_grad(set_to_none=True)
        output = model(input_ids=inputs, output_attentions=True)
        loss = nn.functional.cross_entropy(output.logits.reshape(-1, output.logits.shape[-1]), labels.reshape(-1))
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    base = float(loss.detach())
    attentions = [a.detach() for a in output.attentions]

    def channel_norm(layer):      # ||X_j|| over tokens, per input channel
        return np.sqrt(recorder.inputs[id(layer)]["s2"])

    def channel_var(layer):
        sums = recorder.inputs[id(layer)]
        mean = sums["s1"] / sums["n"]
        return sums["s2"] / sums["n"] - mean ** 2

    rows = []
    for b, block in enumerate(blocks):
        parts = _projections(block)
        x_in, x_out = recorder.block_in[b].double(), recorder.block_out[b].double()
        cos = nn.functional.cosine_similarity(x_in, x_out, dim=-1).clamp(-1, 1)
        probs = attentions[b].double()
        entropy_per_head = -(probs * torch.log(probs.clamp_min(1e-30))).sum(-1).mean(dim=(0, 2)).numpy()
        flap = {name: channel_var(parts[name]) * (_weight_in_out(parts[name]).detach().double() ** 2).sum(0).numpy()
                for name in ("attn_out", "ffn_out")}
        weights = [(layer, _weight_in_out(layer)) for _, layer in _linears(block)]
        if kind == "depth":
            wanda = sum(float((w.detach().double().abs() * torch.from_numpy(channel_norm(layer))).sum())
                        for layer, w in weights)
            taylor = sum(float((p.detach().double() * p.grad.double()).abs().sum()) for p in block.parameters()
                         if p.grad is not None)
            rows.append({"unit": str(b), "block": b, "block_influence": float((1 - cos).mean()),
                         "angular_distance": float((torch.arccos(cos) / math.pi).mean()),
                         "update_ratio": float(((x_out - x_in).norm(dim=-1) / x_in.norm(dim=-1).clamp_min(1e-30))
                                               .mean()),
                         "activation_norm": float(x_out.norm(dim=-1).mean()),
                         "attention_entropy": float(entropy_per_head.mean()),
                         "fluctuation": float(flap["attn_out"].sum() + flap["ffn_out"].sum()),
                         "wanda": wanda, "taylor": taylor,
                         "magnitude": float(math.sqrt(sum(float((p.detach().double() ** 2).sum())
                                                          for p in block.parameters())))})
            continue
        if kind == "heads":
            width = int(parts["attn"].head_dim)
            units = [(h, np.arange(h * width, (h + 1) * width)) for h in range(n_heads)]
            output_layer, input_layers = parts["attn_out"], parts["attn_in"]
        else:
            output_layer, input_layers = parts["ffn_out"], parts["ffn_in"]
            hidden = _weight_in_out(output_layer).shape[1]
            size = hidden // FFN_GROUPS
            units = [(g, np.arange(g * size, (g + 1) * size)) for g in range(FFN_GROUPS)]
        w_out = _weight_in_out(output_layer)
        for index, channels in units:
            chan = torch.from_numpy(channels)
            # the unit's weights: the output projection's input columns and the input projections' output rows
            # (GPT-2's c_attn holds q, k and v side by side: the head's rows of each)
            pieces = [(w_out[:, chan], _grad_in_out(output_layer)[:, chan], channel_norm(output_layer)[channels])]
            for layer in input_layers:
                w = _weight_in_out(layer)
                rows_of = _unit_rows(layer, channels, kind, w.shape[0])
                pieces.append((w[rows_of], _grad_in_out(layer)[rows_of], channel_norm(layer)))
            magnitude = math.sqrt(sum(float((w.detach().double() ** 2).sum()) for w, _, _ in pieces))
            wanda = sum(float((w.detach().double().abs() * torch.from_numpy(np.asarray(n))).sum())
                        for w, _, n in pieces)
            products = [(w.detach().double() * g.double()) for w, g, _ in pieces]
            rows.append({"unit": f"{b}.{index}", "block": b, "index": index, "magnitude": magnitude,
                         "wanda": wanda, "fluctuation": float(flap["attn_out" if kind == "heads" else "ffn_out"]
                                                              [channels].sum()),
                         "taylor": sum(float(p.abs().sum()) for p in products),
                         "taylor_group": abs(sum(float(p.sum()) for p in products)),
                         "activation_norm": float(np.sqrt(recorder.inputs[id(output_layer)]["s2"][channels].sum())),
                         "attention_entropy": float(entropy_per_head[index]) if kind == "heads" else float("nan")})
    model.zero_grad(set_to_none=True)
    table = pd.DataFrame(rows)
    table["position"] = table["block"] / max(1, len(blocks) - 1)
    if with_removal:
        removed = []
        for unit in table["unit"]:
            units = [int(unit)] if kind == "depth" else [tuple(int(x) for x in unit.split("."))]
            sub = subnetwork(model, make_id(kind, units), n_heads)
            removed.append(mean_loss(sub, batch) - base)
        table["removal_loss"] = removed
    table.attrs["calibration_loss"] = base
    return table.set_index("unit")


def _grad_in_out(layer: nn.Module) -> torch.Tensor:
    grad = layer.weight.grad
    return grad.t() if type(layer).__name__ == "Conv1D" else grad


def _unit_rows(layer: nn.Module, channels: np.ndarray, kind: str, rows: int) -> torch.Tensor:
    """The output rows of an input projection that feed the unit's channels (GPT-2's c_attn: q, k and v rows)."""
    if kind == "heads" and rows == 3 * (rows // 3) and type(layer).__name__ == "Conv1D":
        width = rows // 3
        return torch.from_numpy(np.concatenate([channels, channels + width, channels + 2 * width]))
    return torch.from_numpy(channels)
