"""PyTorch models of the FlexiBERT space (NAS-Bench-BERT) under its three readings.

- ``as-trained``: what the benchmark's TensorFlow training code built. Its operation switch compared strings by
  identity, false for strings read from JSON, so every layer is standard multi-head self-attention; its FFN is
  H -> 4H -> (num_feed_forward - 1) x F -> H.
- ``spec``: what the JSON labels describe (SA with SDP/WMA, LT with DFT/DCT, DSC = ConvBERT mixed attention).
- ``legacy``: the PyTorch builder earlier zero-cost studies used: hidden 256 and FFN width 1024 always, and an LT
  layer that is only an input projection (no output dense, no LayerNorm, no residual).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from primitives.roles import tag
from ...errors import ConfigError, UnknownNameError
from ..probe_hooks import PROBE_ATTR, attend, record_activation, record_hidden, record_query
from ..listing import FAMILY_FACTS
from ..seeding import materialise

VOCAB, EMBED, MAX_POSITIONS, TOKEN_TYPES = 30522, 128, 512, 2
LEGACY_HIDDEN, LEGACY_FFN = 256, 1024
LN_EPS = 1e-12
BUILDERS = FAMILY_FACTS["flexibert"].builders


class Embeddings(nn.Module):
    """Word, position and token-type embeddings of width 128, LayerNorm, projected to the hidden size if wider."""
    def __init__(self, hidden: int):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, EMBED)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, EMBED)
        self.token_type_embeddings = nn.Embedding(TOKEN_TYPES, EMBED)
        self.LayerNorm = tag(nn.LayerNorm(EMBED, eps=LN_EPS), "norm")
        # ELECTRA-small style: a 128-wide embedding projected up when the model is wider
        self.project = nn.Linear(EMBED, hidden) if hidden != EMBED else None
        tag(self, "embedding")

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(torch.zeros_like(input_ids)))
        x = self.LayerNorm(x)
        return self.project(x) if self.project is not None else x


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(batch, seq, width) -> (batch, heads, seq, width / heads)."""
    batch, seq, width = x.shape
    return x.view(batch, seq, heads, width // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(batch, heads, seq, width) -> (batch, seq, heads * width)."""
    batch, heads, seq, width = x.shape
    return x.transpose(1, 2).reshape(batch, seq, heads * width)


class SelfAttention(nn.Module):
    """Multi-head self-attention; ``WMA`` scores Q W K^T with a learned bias-free H x H matrix W."""

    def __init__(self, hidden: int, heads: int, scoring: str = "SDP"):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.weight = nn.Linear(hidden, hidden, bias=False) if scoring == "WMA" else None
        self.hidden = hidden
        self.zc_heads = heads
        tag(self, "attention")

    def zc_flops(self, seq: int) -> float:
        return 4.0 * seq * seq * self.hidden  # Q K^T and softmax(.) V over all heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query, key, value = self.query(x), self.key(x), self.value(x)
        weighted = self.weight(query) if self.weight is not None else None
        record_query(self, query, others=(key, value) + ((weighted,) if weighted is not None else ()))
        q, k, v = (split_heads(t, self.heads) for t in (query if weighted is None else weighted, key, value))
        return merge_heads(attend(self, q, k, v))


def dct_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Unnormalised DCT-II as a matrix: X_k = 2 sum_j x_j cos(pi k (2j + 1) / 2n) (scipy's norm=None)."""
    k = torch.arange(n, dtype=dtype, device=device)[:, None]
    j = torch.arange(n, dtype=dtype, device=device)[None, :]
    return 2 * torch.cos(math.pi * k * (2 * j + 1) / (2 * n))


def transform_2d(x: torch.Tensor, kind: str) -> torch.Tensor:
    """A parameter-free token mixer over the last two dimensions (sequence, features)."""
    if kind == "DFT":
        return torch.fft.fft2(x).real
    seq, width = x.shape[-2:]
    return dct_matrix(seq, x.dtype, x.device) @ x @ dct_matrix(width, x.dtype, x.device).T


class LinearTransform(nn.Module):
    """FNet-style mixing: an input projection, then a 2-D DFT (real part) or DCT-II.

    ``per_head`` reproduces the legacy code, which transforms each head's slice over (sequence, head width). While
    probed it records the softmax over the last dimension of the transformed slices, which the legacy code computes
    and discards (LPZero's "softmax" input reads it)."""

    zc_probe_mixer = True

    def __init__(self, hidden: int, kind: str, heads: int = 1, per_head: bool = False):
        super().__init__()
        self.kind, self.heads, self.per_head = kind, heads, per_head
        self.input = nn.Linear(hidden, hidden)
        self.hidden = hidden
        tag(self, "mixing")

    def zc_flops(self, seq: int) -> float:
        width = self.hidden // self.heads if self.per_head else self.hidden
        if self.kind == "DFT":  # a 2-D FFT of N points costs about 5 N log2 N
            return 5.0 * seq * self.hidden * math.log2(seq * width)
        return 2.0 * seq * seq * self.hidden + 2.0 * seq * width * self.hidden  # the two DCT matrix products

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input(x)
        mixed = transform_2d(split_heads(h, self.heads) if self.per_head else h, self.kind)
        if getattr(self, PROBE_ATTR, None) is not None:
            record_query(self, h, mixed.softmax(-1))
        return merge_heads(mixed) if self.per_head else mixed


class SeparableConv1d(nn.Module):
    """Depth-wise then point-wise 1-D convolution with one bias per output channel (ConvBERT's key convolution)."""
    def __init__(self, channels_in: int, channels_out: int, kernel: int):
        super().__init__()
        self.depthwise = nn.Conv1d(channels_in, channels_in, kernel, groups=channels_in, padding=kernel // 2,
                                   bias=False)
        self.pointwise = nn.Conv1d(channels_in, channels_out, 1, bias=False)
        self.bias = nn.Parameter(torch.empty(channels_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x)) + self.bias


class ConvAttention(nn.Module):
    """ConvBERT mixed attention (head ratio 2): max(1, heads/2) attention heads of width H/heads, plus a span-based
    dynamic convolution branch of the same width; the two are concatenated back to H."""

    def __init__(self, hidden: int, heads: int, kernel: int):
        super().__init__()
        if kernel % 2 == 0:
            raise ConfigError(f"DSC kernel size must be odd to keep the sequence length, got {kernel}.")
        self.kernel = kernel
        self.head_size = hidden // heads
        self.attn_heads = max(1, heads // 2)
        width = self.attn_heads * self.head_size
        if 2 * width != hidden:
            raise ConfigError(f"DSC with {heads} head(s) cannot be concatenated back to hidden size {hidden}.")
        self.query, self.key, self.value = (tag(nn.Linear(hidden, width), "attention") for _ in range(3))
        self.key_conv_attn_layer = tag(SeparableConv1d(hidden, width, kernel), "mixing")
        self.conv_kernel_layer = tag(nn.Linear(width, self.attn_heads * kernel), "mixing")
        self.conv_out_layer = tag(nn.Linear(hidden, width), "mixing")
        self.width = width
        self.zc_heads = self.attn_heads

    def zc_flops(self, seq: int) -> float:
        return 4.0 * seq * seq * self.width + 2.0 * seq * self.width * self.kernel  # attention + dynamic conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        query, key, value = self.query(x), self.key(x), self.value(x)
        record_query(self, query, others=(key, value))
        key_conv = self.key_conv_attn_layer(x.transpose(1, 2)).transpose(1, 2)
        conv_kernel = self.conv_kernel_layer(key_conv * query).reshape(-1, self.kernel, 1).softmax(dim=1)
        conv_out = self.conv_out_layer(x).transpose(1, 2).unsqueeze(-1)         # (B, width, seq, 1)
        conv_out = F.unfold(conv_out, kernel_size=(self.kernel, 1), padding=((self.kernel - 1) // 2, 0))
        conv_out = conv_out.transpose(1, 2).reshape(-1, self.head_size, self.kernel) @ conv_kernel
        conv_out = conv_out.reshape(batch, seq, self.attn_heads, self.head_size)
        q, k, v = (split_heads(t, self.attn_heads) for t in (query, key, value))
        context = attend(self, q, k, v).transpose(1, 2)                       # (B, seq, heads, head_size)
        return torch.cat([context, conv_out], dim=2).reshape(batch, seq, -1)


class MixerBlock(nn.Module):
    """Token mixer, then (unless bare) an output dense H -> H and a post-LayerNorm over the residual."""

    def __init__(self, mixer: nn.Module, hidden: int, role: str, bare: bool = False):
        super().__init__()
        self.mixer = mixer
        self.output = None if bare else tag(nn.Linear(hidden, hidden), role)
        self.LayerNorm = None if bare else tag(nn.LayerNorm(hidden, eps=LN_EPS), "norm")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mixer(x)
        if self.output is None:
            return h
        return self.LayerNorm(x + self.output(h))


class FeedForward(nn.Module):
    """Dense layers through ``widths`` (GELU between them), then a post-LayerNorm over the residual."""

    zc_probe_ffn = True

    def __init__(self, widths: list[int]):
        super().__init__()
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.LayerNorm = tag(nn.LayerNorm(widths[-1], eps=LN_EPS), "norm")
        tag(self, "ffn")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, dense in enumerate(self.dense):
            h = dense(h)
            if i < len(self.dense) - 1:
                h = F.gelu(h)
                if i == 0:
                    record_activation(self, h)
                record_hidden(self, h)
        return self.LayerNorm(x + h)


class Layer(nn.Module):
    """One encoder layer: token mixer block, then feed-forward block."""
    def __init__(self, mixer: MixerBlock, ffn: FeedForward, index: int):
        super().__init__()
        self.mixer, self.ffn = mixer, ffn
        tag(self, layer=index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.mixer(x))


class FlexiBertModel(nn.Module):
    """Encoder of the FlexiBERT space. ``layer_ops`` says, per layer, which operation the model really has."""

    def __init__(self, hidden: int, layers: list[Layer], layer_ops: list[dict[str, Any]], builder: str):
        super().__init__()
        self.embeddings = Embeddings(hidden)
        self.layers = nn.ModuleList(layers)
        self.layer_ops, self.builder, self.hidden_size = layer_ops, builder, hidden

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(input_ids)
        for layer in self.layers:
            x = layer(x)
        return x


def _mixer(op: dict[str, Any], hidden: int, legacy: bool) -> tuple[MixerBlock, dict[str, Any]]:
    kind, param, heads = op["operation_type"], op["operation_parameter"], op["num_operation_heads"]
    if hidden % heads:
        raise ConfigError(f"num_operation_heads={heads} does not divide hidden size {hidden}.")
    if kind == "SA":
        block = MixerBlock(SelfAttention(hidden, heads, param), hidden, "attention")
    elif kind == "LT":
        block = MixerBlock(LinearTransform(hidden, param, heads, per_head=legacy), hidden, "mixing", bare=legacy)
    elif kind == "DSC":
        block = MixerBlock(ConvAttention(hidden, heads, int(param)), hidden, "attention")
    else:
        raise ConfigError(f"unknown operation_type {kind!r}; expected SA, LT or DSC.")
    return block, {"operation": kind, "parameter": param, "heads": heads}


def _layers(config: dict[str, Any], builder: str) -> tuple[int, list[Layer], list[dict[str, Any]]]:
    hidden = LEGACY_HIDDEN if builder == "legacy" else config["hidden_size"]
    layers, ops = [], []
    for i, op in enumerate(config["layers"]):
        nff = op["num_feed_forward"]
        if builder == "as-trained":
            # operation_type is "SA" (identity) never held for JSON strings: plain MHSA in every layer
            mixer, record = _mixer({**op, "operation_type": "SA", "operation_parameter": "SDP"}, hidden, False)
            widths = [hidden, 4 * hidden] + [op["feed_forward_dimension"]] * (nff - 1) + [hidden]
        else:
            mixer, record = _mixer(op, hidden, builder == "legacy")
            width = LEGACY_FFN if builder == "legacy" else op["feed_forward_dimension"]
            widths = [hidden] + [width] * nff + [hidden]
        layers.append(Layer(mixer, FeedForward(widths), i))
        ops.append({**record, "ffn_widths": widths})
    return hidden, layers, ops


def build_flexibert(config: dict[str, Any], builder: str = "as-trained", seed: int = 0,
                    device: str | torch.device = "cpu") -> FlexiBertModel:
    """A seeded, initialised FlexiBERT model for one architecture config (see ``flexibert.data``)."""
    if builder not in BUILDERS:
        raise UnknownNameError("FlexiBERT builder", builder, BUILDERS)

    def build() -> FlexiBertModel:
        hidden, layers, ops = _layers(config, builder)
        return FlexiBertModel(hidden, layers, ops, builder)

    return materialise(build, seed, device=device)
