"""The LTS GPT-2 family: Archai's GPT-2 with a Transformer-XL adaptive input and softmax, in the LTS folder layout.

Blocks are pre-LayerNorm: LN -> causal attention (c_attn d -> 3d, c_proj d -> d) -> residual -> LN -> MLP
(d -> d_inner -> d, GELU) -> residual; a final LN. Per-layer ``n_head`` and ``d_inner`` come from the config lists;
a learned positional embedding of ``tgt_len`` rows. The adaptive embedding and softmax are in ``adaptive``.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from primitives.roles import tag
from . import lts_layout
from .adaptive import AdaptiveEmbedding, AdaptiveSoftmax
from .base import BenchmarkFamily
from .listing import FAMILY_FACTS
from .probe_hooks import attend, record_activation, record_query
from .seeding import materialise

LN_EPS = 1e-5


class Attention(nn.Module):
    """Causal multi-head self-attention of a GPT-2 block (c_attn d -> 3d, c_proj d -> d)."""
    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.d_model = d_model
        self.zc_heads = n_head
        tag(self, "attention")

    def zc_flops(self, seq: int) -> float:
        return 4.0 * seq * seq * self.d_model  # scores and weighted values, causal mask not discounted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        query, key, value = self.c_attn(x).split(width, -1)
        record_query(self, query)
        q, k, v = (t.view(batch, seq, self.n_head, -1).transpose(1, 2) for t in (query, key, value))
        context = attend(self, q, k, v, causal=True)
        return self.c_proj(context.transpose(1, 2).reshape(batch, seq, width))


class MLP(nn.Module):
    """GPT-2's feed-forward: c_fc d -> d_inner, tanh-GELU, c_proj d_inner -> d."""
    zc_probe_ffn = True

    def __init__(self, d_model: int, d_inner: int):
        super().__init__()
        self.c_fc = nn.Linear(d_model, d_inner)
        self.c_proj = nn.Linear(d_inner, d_model)
        tag(self, "ffn")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.c_fc(x), approximate="tanh")
        record_activation(self, h)
        return self.c_proj(h)


class Block(nn.Module):
    """Pre-LayerNorm GPT-2 block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""
    def __init__(self, d_model: int, n_head: int, d_inner: int, index: int):
        super().__init__()
        self.ln_1 = tag(nn.LayerNorm(d_model, eps=LN_EPS), "norm")
        self.attn = Attention(d_model, n_head)
        self.ln_2 = tag(nn.LayerNorm(d_model, eps=LN_EPS), "norm")
        self.mlp = MLP(d_model, d_inner)
        tag(self, layer=index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    """An LTS GPT-2: adaptive input + learned positions, blocks, final LayerNorm, tied adaptive softmax (``crit``)."""
    # its learned position table is added to the input embeddings' output (``wpe``), so the gradient there, summed
    # over the batch, is the table's gradient (LPZero's jacobian cosine reads it)
    zc_learned_positions = True

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        d_model, d_embed, cutoffs = config["d_model"], config["d_embed"], config["cutoffs"]
        self.word_emb = AdaptiveEmbedding(config["n_token"], d_embed, d_model, cutoffs, config["div_val"])
        self.wpe = tag(nn.Embedding(config["tgt_len"], d_model), "embedding")
        self.blocks = nn.ModuleList(Block(d_model, heads, inner, i)
                                    for i, (heads, inner) in enumerate(zip(config["n_head"], config["d_inner"])))
        self.ln_f = tag(nn.LayerNorm(d_model, eps=LN_EPS), "norm")
        self.crit = AdaptiveSoftmax(self.word_emb, d_embed, d_model, cutoffs, config["div_val"],
                                    config["tie_projs"], config["tie_weight"])
        self.layer_ops = [{"operation": "SA", "parameter": "causal", "heads": h, "ffn_widths": [d_model, i, d_model]}
                          for h, i in zip(config["n_head"], config["d_inner"])]
        self.tgt_len, self.config = config["tgt_len"], config

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Final hidden states (batch, seq, d_model); ``crit(hidden, targets)`` gives the LM loss."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_emb(input_ids) + self.wpe(positions)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def lm_loss(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Mean next-token NLL over a batch of token ids."""
        hidden = self(input_ids[:, :-1])
        return self.crit(hidden.reshape(-1, hidden.shape[-1]), input_ids[:, 1:].reshape(-1)).mean()


def build_gpt2(config: dict[str, Any], seed: int = 0, device: str | torch.device = "cpu") -> GPT2Model:
    """A seeded, initialised LTS GPT-2 model for a normalised config (see ``lts_layout.normalise_config``).

    Initialised like Archai: weights N(0, weight_init_std), adaptive projections N(0, proj_init_std), biases 0,
    LayerNorm 1/0, and GPT-2's residual projections (``c_proj``) scaled by 1/sqrt(2 n_layer).
    """
    std, proj_std = config["weight_init_std"], config["proj_init_std"]
    residual_std = std / math.sqrt(2 * config["n_layer"])

    def std_of(name: str) -> float | None:
        if "emb_projs" in name or "out_projs" in name:
            return proj_std
        if name.endswith("c_proj.weight"):
            return residual_std
        return None

    return materialise(lambda: GPT2Model(config), seed, std=std, std_of=std_of, device=device)


def param_parts(config: dict[str, Any]) -> dict[str, int]:
    """Closed-form parameter counts in ``params_summary.yaml``'s parts (``AdaEmb`` includes the positions)."""
    d = config["d_model"]
    attention = sum(4 * d * d + 4 * d for _ in config["n_head"])
    ffn = sum(2 * d * inner + inner + d for inner in config["d_inner"])
    norms = (2 * config["n_layer"] + 1) * 2 * d
    embedding = lts_layout.adaptive_embedding_params(config) + config["tgt_len"] * d
    nonembedding = attention + ffn + norms
    return {"AdaEmb": embedding, "Attn": attention, "FFN": ffn, "nonembedding": nonembedding,
            "total": embedding + nonembedding + lts_layout.adaptive_softmax_params(config)}


def _build(config: dict[str, Any], builder: str = "as-trained", seed: int = 0,
           device: str | torch.device = "cpu") -> GPT2Model:
    return build_gpt2(config, seed, device)


normalise_config = lts_layout.normalise_config   # GPT-2 adds nothing to the fields both LTS families share


def load(folder) -> list:
    """The architectures of an LTS GPT-2 folder (see ``lts_layout.load_folder``)."""
    return lts_layout.load_folder(folder, "GPT-2", normalise_config, param_parts)


FAMILY = BenchmarkFamily(
    **FAMILY_FACTS["gpt2"].fields(), load=load, build=_build, vocab_size=lambda config: config["n_token"],
    probe_shape=(16, 192), probe_seq=lts_layout.probe_seq, task_loss=lts_layout.lm_task_loss,
    input_embedding=lambda model: model.word_emb, model_class=GPT2Model, head_logits=lts_layout.head_logits)
