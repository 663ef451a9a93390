"""What a model exposes to data-dependent proxies while it is being probed (and costs nothing otherwise).

A module being probed carries a dict ``zc_probe``. Attention modules carry their head count as ``zc_heads``; FFN
modules that record activations say so with the class attribute ``zc_probe_ffn = True``, and token mixers without
attention (FlexiBERT's linear transforms) with ``zc_probe_mixer = True``. Every token mixer records its first
projection's output (the query, or a linear transform's input projection: what LPZero's "head" input reads). Probed
attention modules compute their attention explicitly, record the probabilities, and scale each head's output by a head
mask (ones, requiring grad: its gradient is the head's importance, Michel et al. 2019). FFN modules record their hidden
activations (after the first non-linearity) and the gradient of the first backward pass through them (the probe's task
loss; a later pass, such as the input Jacobian's, leaves it alone - ``retain_grad`` would add into it, and a copy per
layer would cost more than the hook).
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

PROBE_ATTR = "zc_probe"


def attend(module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v per head; explicit, recorded and head-masked when ``module`` is probed."""
    probe = getattr(module, PROBE_ATTR, None)
    if probe is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return attend_scores(module, q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), v, causal)


def attend_scores(module, scores: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """softmax(scores) v per head, for attention that computes its own scores (Transformer-XL's relative ones);
    recorded and head-masked when ``module`` is probed. ``scores``: (batch, heads, queries, keys)."""
    if causal:
        queries, keys = scores.shape[-2:]
        future = torch.ones(queries, keys, dtype=torch.bool, device=scores.device).triu(1 + keys - queries)
        scores = scores.masked_fill(future, float("-inf"))
    probs = scores.softmax(-1)
    probe = getattr(module, PROBE_ATTR, None)
    if probe is None:
        return probs @ v
    probe["probs"] = probs
    context = probs @ v
    mask = probe.get("head_mask")
    if mask is not None:
        context = context * mask.view(1, -1, 1, 1)
    return context


def record_activation(module, hidden: torch.Tensor) -> None:
    """Record an FFN module's hidden activations (and their first gradient) while it is probed; a no-op otherwise."""
    probe = getattr(module, PROBE_ATTR, None)
    if probe is not None:
        if hidden.requires_grad:
            # The hook holds only this list: a hook that refers to the tensor it hangs on (through ``probe``) makes a
            # cycle that Python's collector cannot see through torch's tensors, and each probed model leaked.
            first: list[torch.Tensor] = []

            def keep_first(grad: torch.Tensor) -> None:
                if not first:
                    first.append(grad)
            hidden.register_hook(keep_first)
            probe["act_grad"] = first
        probe["act"] = hidden


def record_hidden(module, hidden: torch.Tensor) -> None:
    """Record every hidden activation of an FFN with several (FlexiBERT's stacked dense layers), in order, while it
    is probed; ``record_activation`` keeps only the first, with its gradient."""
    probe = getattr(module, PROBE_ATTR, None)
    if probe is not None:
        probe.setdefault("hiddens", []).append(hidden.detach())


def record_query(module, query: torch.Tensor, probs: torch.Tensor | None = None,
                 others: tuple[torch.Tensor, ...] = ()) -> None:
    """Record a token mixer's first projection output (and, for a mixer without attention, the softmax it computes
    over its output) while it is probed; a no-op otherwise. ``others`` are its other input projections' outputs
    (key, value, WMA's weighted query), kept after the query as ``projections``."""
    probe = getattr(module, PROBE_ATTR, None)
    if probe is not None:
        probe["projections"] = [query.detach(), *(t.detach() for t in others)]
        if probs is not None:
            probe["probs"] = probs.detach()
