"""The LTS Transformer-XL family: NVIDIA's ``MemTransformerLM`` as Archai trained it, in the LTS folder layout.

Per layer (``attn_type`` 0, relative partial-learnable attention, post-LayerNorm unless ``pre_lnorm``):
``qkv_net`` d -> 3 n_head d_head and ``r_net`` d -> n_head d_head (the projection of the sinusoidal relative
positions), both without bias; content and position scores (q + r_w_bias) k^T + shift((q + r_r_bias) r^T), scaled
by 1 / sqrt(d_head) and causally masked; ``o_net`` back to d without bias; LayerNorm over the residual. Then a ReLU
FFN d -> d_inner -> d with its own LayerNorm over the residual. Archai keeps one ``r_w_bias`` / ``r_r_bias`` of
shape (n_head, d_head) per layer, since heads differ between layers; they sit here in the layer's attention module.
``d_head: -1`` means d_model // n_head. The adaptive input and tied adaptive softmax are the GPT-2 family's
(``adaptive``). A probe reads one segment with an empty memory, as the first segment of an evaluation does.

Initialised like Archai's ``weights_init``: Linear, embedding tables and the cluster logits N(0, weight_init_std);
adaptive projections N(0, proj_init_std); r_w_bias and r_r_bias N(0, weight_init_std); LayerNorm weights
N(1, weight_init_std); biases 0. Reference: archai ``nlp/models/mem_transformer/model_mem_transformer.py``.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from primitives.roles import tag
from ..errors import DataError
from . import lts_layout
from .adaptive import AdaptiveEmbedding, AdaptiveSoftmax
from .base import BenchmarkFamily
from .listing import FAMILY_FACTS
from .probe_hooks import attend_scores, record_activation, record_query
from .seeding import materialise

LN_EPS = 1e-5


def rel_shift(scores: torch.Tensor) -> torch.Tensor:
    """Transformer-XL's relative shift: row i of (batch, heads, queries, keys) moves so that column j holds the score
    of relative distance i - j (position scores are computed against distances klen-1 ... 0)."""
    batch, heads, queries, keys = scores.shape
    padded = torch.cat([scores.new_zeros(batch, heads, queries, 1), scores], dim=3)
    return padded.view(batch, heads, keys + 1, queries)[:, :, 1:].reshape(batch, heads, queries, keys)


def sinusoid_positions(length: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Embeddings of the relative distances length-1 ... 0: [sin, cos] of distance / 10000^(2i / width)."""
    distances = torch.arange(length - 1, -1, -1.0, dtype=dtype, device=device)
    inv_freq = 1 / (10000 ** (torch.arange(0.0, width, 2.0, dtype=dtype, device=device) / width))
    angles = torch.outer(distances, inv_freq)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class RelPartialLearnableAttention(nn.Module):
    """Transformer-XL's relative partial-learnable multi-head attention (attn_type 0) with its LayerNorm."""
    def __init__(self, d_model: int, n_head: int, d_head: int, pre_lnorm: bool):
        super().__init__()
        self.n_head, self.d_head, self.pre_lnorm = n_head, d_head, pre_lnorm
        self.qkv_net = nn.Linear(d_model, 3 * n_head * d_head, bias=False)
        self.r_net = nn.Linear(d_model, n_head * d_head, bias=False)
        self.o_net = nn.Linear(n_head * d_head, d_model, bias=False)
        self.layer_norm = tag(nn.LayerNorm(d_model, eps=LN_EPS), "norm")
        self.r_w_bias = nn.Parameter(torch.empty(n_head, d_head))
        self.r_r_bias = nn.Parameter(torch.empty(n_head, d_head))
        self.zc_heads = n_head
        tag(self, "attention")

    def zc_flops(self, seq: int) -> float:
        return 6.0 * seq * seq * self.n_head * self.d_head  # content scores, position scores, weighted values

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        heads = self.qkv_net(self.layer_norm(x) if self.pre_lnorm else x)
        query, key, value = heads.chunk(3, dim=-1)
        record_query(self, query)
        q, k, v = (t.view(batch, seq, self.n_head, self.d_head) for t in (query, key, value))
        r = self.r_net(positions).view(seq, self.n_head, self.d_head)
        content = torch.einsum("bind,bjnd->bnij", q + self.r_w_bias, k)
        position = rel_shift(torch.einsum("bind,jnd->bnij", q + self.r_r_bias, r))
        context = attend_scores(self, (content + position) / math.sqrt(self.d_head), v.transpose(1, 2), causal=True)
        out = self.o_net(context.transpose(1, 2).reshape(batch, seq, self.n_head * self.d_head))
        return x + out if self.pre_lnorm else self.layer_norm(x + out)


class PositionwiseFF(nn.Module):
    """ReLU feed-forward d -> d_inner -> d with a LayerNorm over the residual."""
    zc_probe_ffn = True

    def __init__(self, d_model: int, d_inner: int, pre_lnorm: bool):
        super().__init__()
        self.pre_lnorm = pre_lnorm
        self.fc1 = nn.Linear(d_model, d_inner)
        self.fc2 = nn.Linear(d_inner, d_model)
        self.layer_norm = tag(nn.LayerNorm(d_model, eps=LN_EPS), "norm")
        tag(self, "ffn")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(self.layer_norm(x) if self.pre_lnorm else x))
        record_activation(self, h)
        out = self.fc2(h)
        return x + out if self.pre_lnorm else self.layer_norm(x + out)


class DecoderLayer(nn.Module):
    """One Transformer-XL layer: relative attention, then the position-wise FFN."""
    def __init__(self, d_model: int, n_head: int, d_head: int, d_inner: int, pre_lnorm: bool, index: int):
        super().__init__()
        self.dec_attn = RelPartialLearnableAttention(d_model, n_head, d_head, pre_lnorm)
        self.pos_ff = PositionwiseFF(d_model, d_inner, pre_lnorm)
        tag(self, layer=index)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.pos_ff(self.dec_attn(x, positions))


class TransformerXLModel(nn.Module):
    """An LTS Transformer-XL: adaptive input, relative-attention layers, tied adaptive softmax (``crit``)."""
    def __init__(self, config: dict[str, Any]):
        super().__init__()
        d_model, d_embed, cutoffs = config["d_model"], config["d_embed"], config["cutoffs"]
        self.d_model = d_model
        self.word_emb = AdaptiveEmbedding(config["n_token"], d_embed, d_model, cutoffs, config["div_val"])
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, heads, d_head, inner, config["pre_lnorm"], i)
            for i, (heads, d_head, inner) in enumerate(zip(config["n_head"], config["d_head"], config["d_inner"])))
        self.crit = AdaptiveSoftmax(self.word_emb, d_embed, d_model, cutoffs, config["div_val"], config["tie_projs"],
                                    config["tie_weight"])
        self.layer_ops = [{"operation": "SA", "parameter": "relative", "heads": h, "ffn_widths": [d_model, i, d_model]}
                          for h, i in zip(config["n_head"], config["d_inner"])]
        self.tgt_len, self.config = config["tgt_len"], config

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Final hidden states (batch, seq, d_model) of one segment read with an empty memory."""
        x = self.word_emb(input_ids)
        positions = sinusoid_positions(input_ids.shape[1], self.d_model, x.dtype, x.device)
        for layer in self.layers:
            x = layer(x, positions)
        return x

    def lm_loss(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Mean next-token NLL over a batch of token ids."""
        hidden = self(input_ids[:, :-1])
        return self.crit(hidden.reshape(-1, hidden.shape[-1]), input_ids[:, 1:].reshape(-1)).mean()


def normalise_config(raw: Any, where: str) -> dict[str, Any]:
    """The shared LTS checks, plus what Transformer-XL adds: attn_type 0, d_head (-1: d_model // n_head)."""
    config = lts_layout.normalise_config(raw, where)
    attn_type = config.get("attn_type", 0)
    if attn_type != 0:
        raise DataError(f"{where}: attn_type {attn_type!r} is not supported; the LTS Transformer-XL benchmarks use "
                        "0 (relative partial-learnable attention).")
    d_head = config.get("d_head", -1)
    if d_head == -1 or d_head is None:
        config["d_head"] = [config["d_model"] // heads for heads in config["n_head"]]
    else:
        config["d_head"] = lts_layout.per_layer(d_head, config["n_layer"], "d_head", where)
    config["pre_lnorm"] = bool(config.get("pre_lnorm", False))
    return config


def param_parts(config: dict[str, Any]) -> dict[str, int]:
    """Closed-form parameter counts in ``params_summary.yaml``'s parts: ``Attn`` holds the attention matrices and
    their LayerNorm, ``FFN`` the two dense layers; ``nonembedding`` adds the FFN LayerNorms and r_w_bias/r_r_bias."""
    d = config["d_model"]
    attention = ffn = extra = 0
    for heads, d_head, inner in zip(config["n_head"], config["d_head"], config["d_inner"]):
        width = heads * d_head
        attention += 3 * d * width + d * width + width * d + 2 * d
        ffn += 2 * d * inner + inner + d
        extra += 2 * d + 2 * width
    embedding = lts_layout.adaptive_embedding_params(config)
    nonembedding = attention + ffn + extra
    return {"AdaEmb": embedding, "Attn": attention, "FFN": ffn, "nonembedding": nonembedding,
            "total": embedding + nonembedding + lts_layout.adaptive_softmax_params(config)}


def build_txl(config: dict[str, Any], builder: str = "as-trained", seed: int = 0,
              device: str | torch.device = "cpu") -> TransformerXLModel:
    """A seeded, initialised Transformer-XL model for a normalised config (see ``normalise_config``)."""
    std, proj_std = config["weight_init_std"], config["proj_init_std"]

    def std_of(name: str) -> float | tuple[float, float] | None:
        if "emb_projs" in name or "out_projs" in name:
            return proj_std
        if name.endswith(("r_w_bias", "r_r_bias")):
            return std
        if name.endswith("layer_norm.weight"):
            return (1.0, std)
        return None

    return materialise(lambda: TransformerXLModel(config), seed, std=std, std_of=std_of, device=device)


def load(folder) -> list:
    """The architectures of an LTS Transformer-XL folder (see ``lts_layout.load_folder``)."""
    return lts_layout.load_folder(folder, "Transformer-XL", normalise_config, param_parts)


FAMILY = BenchmarkFamily(
    **FAMILY_FACTS["txl"].fields(), load=load, build=build_txl, vocab_size=lambda c: c["n_token"],
    probe_shape=(16, 192), probe_seq=lts_layout.probe_seq, task_loss=lts_layout.lm_task_loss,
    input_embedding=lambda model: model.word_emb, model_class=TransformerXLModel, head_logits=lts_layout.head_logits)
