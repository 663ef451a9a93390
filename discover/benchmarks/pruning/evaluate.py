"""The loss of a causal language model on fixed windows of real text: the exact target of a pruning space.

A sub-network's quality is measured, not trained again: its mean next-token cross-entropy over a fixed set of
windows of the held-out split (the same windows for every sub-network, so the comparison has no sampling noise
between candidates). Windows are non-overlapping, evenly spaced over the split, chosen by count alone.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...text import mask_positions


def windows(ids: np.ndarray, seq_len: int, count: int | None = None) -> torch.Tensor:
    """``count`` non-overlapping windows of ``seq_len + 1`` tokens, evenly spaced over ``ids`` (all when None)."""
    available = (len(ids) - 1) // seq_len
    if available < 1:
        raise ValueError(f"{len(ids)} tokens hold no window of {seq_len + 1}")
    count = available if count is None else min(int(count), available)
    starts = (np.arange(count) * (available // count)) * seq_len
    return torch.from_numpy(np.stack([ids[s:s + seq_len + 1].astype(np.int64) for s in starts]))


@torch.no_grad()
def mean_loss(model: nn.Module, batches: torch.Tensor, batch_size: int = 32) -> float:
    """Mean next-token cross-entropy (nats per token) of ``model`` over the windows ``batches`` (rows of
    ``seq_len + 1`` tokens); float64 accumulation, so the order of batches does not change the last digits."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(batches), batch_size):
        chunk = batches[start:start + batch_size].to(device)
        logits = model(input_ids=chunk[:, :-1]).logits
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), chunk[:, 1:].reshape(-1),
                                           reduction="sum")
        total += float(loss.double())
        count += chunk[:, 1:].numel()
    return total / count


def unigram_loss(train_ids: np.ndarray, heldout_ids: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy of the add-one unigram model of ``train_ids`` on ``heldout_ids``: the floor a language model
    must go well below to have learned anything about context."""
    counts = np.bincount(train_ids.astype(np.int64), minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-logp[heldout_ids.astype(np.int64)].mean())


def masked_loss(model: nn.Module, ids: torch.Tensor, chosen: torch.Tensor, mask_id: int,
                reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of a masked language model on the positions ``chosen`` of ``ids``, given as the mask token."""
    device = next(model.parameters()).device
    ids, chosen = ids.to(device), chosen.to(device)
    logits = model(input_ids=ids.masked_fill(chosen, mask_id)).logits
    return nn.functional.cross_entropy(logits[chosen].float(), ids[chosen], reduction=reduction)


@torch.no_grad()
def mean_masked_loss(model: nn.Module, batches: torch.Tensor, mask_id: int, seed: int = 0,
                     batch_size: int = 32) -> float:
    """Mean masked-token cross-entropy (nats per masked token) over the windows ``batches``, with one fixed mask
    (seeded by ``seed``) for every model scored on them; float64 accumulation."""
    chosen = mask_positions(tuple(batches.shape), seed)
    total, count = 0.0, 0
    for start in range(0, len(batches), batch_size):
        rows = slice(start, start + batch_size)
        total += float(masked_loss(model, batches[rows], chosen[rows], mask_id, "sum").double())
        count += int(chosen[rows].sum())
    return total / count
