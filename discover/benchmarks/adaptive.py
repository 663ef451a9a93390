"""Transformer-XL's adaptive input embedding and tied, projected adaptive softmax, shared by the LTS families.

The vocabulary is split at ``cutoffs`` into clusters; cluster i has its own table of width d_embed // div_val^i,
projected to d_model (with div_val 1: one table, projected only when d_embed != d_model). The softmax ties its output
weights to the input tables and, where ``tie_projs[i]`` is true, its projections too (archai's
``model_utils/adaptive_embedding.py`` and ``proj_adaptive_softmax.py``).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from primitives.roles import tag


class AdaptiveEmbedding(nn.Module):
    """Transformer-XL's adaptive input: one table per vocabulary cluster, projected to d_model, scaled by
    sqrt(d_model)."""
    def __init__(self, n_token: int, d_embed: int, d_model: int, cutoffs: list[int], div_val: int):
        super().__init__()
        self.d_model, self.div_val = d_model, div_val
        self.bounds = [0] + list(cutoffs)
        self.emb_layers = nn.ModuleList()
        self.emb_projs = nn.ParameterList()
        if div_val == 1:
            self.emb_layers.append(nn.Embedding(n_token, d_embed))
            if d_embed != d_model:
                self.emb_projs.append(nn.Parameter(torch.empty(d_model, d_embed)))
        else:
            for i, (lo, hi) in enumerate(zip(self.bounds, self.bounds[1:])):
                width = d_embed // div_val ** i
                self.emb_layers.append(nn.Embedding(hi - lo, width))
                self.emb_projs.append(nn.Parameter(torch.empty(d_model, width)))
        tag(self, "embedding")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Embeddings (batch, seq, d_model) of token ``ids``."""
        if self.div_val == 1:
            out = self.emb_layers[0](ids)
            if len(self.emb_projs):
                out = F.linear(out, self.emb_projs[0])
        else:
            # Masks instead of gathers: no data-dependent shapes, so the model also runs on the meta device
            # (FLOP counting) at the price of projecting every token through every cluster.
            out = 0
            for i, (lo, hi) in enumerate(zip(self.bounds, self.bounds[1:])):
                inside = ((ids >= lo) & (ids < hi)).unsqueeze(-1)
                local = (ids - lo).clamp(0, hi - lo - 1)
                out = out + F.linear(self.emb_layers[i](local), self.emb_projs[i]) * inside
        return out * math.sqrt(self.d_model)  # Transformer-XL's embedding scale


class AdaptiveSoftmax(nn.Module):
    """Transformer-XL's projected adaptive log-softmax, tied to an ``AdaptiveEmbedding``.

    Only the parameters that are not tied live here: the cluster logits, the output biases, untied projections and,
    when ``tie_weight`` is false, the output weights. The tied ones are read from the embedding at call time.
    """

    def __init__(self, embedding: AdaptiveEmbedding, d_embed: int, d_model: int, cutoffs: list[int], div_val: int,
                 tie_projs: list[bool], tie_weight: bool):
        super().__init__()
        self.embedding = [embedding]  # a list, so the tied module is not registered (and counted) twice
        self.bounds, self.div_val, self.tie_projs = [0] + list(cutoffs), div_val, list(tie_projs)
        self.n_clusters = len(cutoffs) - 1
        if self.n_clusters:
            self.cluster_weight = nn.Parameter(torch.empty(self.n_clusters, d_embed))
            self.cluster_bias = nn.Parameter(torch.empty(self.n_clusters))
        spans = [(lo, hi) for lo, hi in zip(self.bounds, self.bounds[1:])]
        widths = [d_embed] * len(spans) if div_val == 1 else [d_embed // div_val ** i for i in range(len(spans))]
        tables = [(spans[-1][1], d_embed)] if div_val == 1 else [(hi - lo, w) for (lo, hi), w in zip(spans, widths)]
        self.out_biases = nn.ParameterList(nn.Parameter(torch.empty(rows)) for rows, _ in tables)
        self.out_weights = None if tie_weight else nn.ParameterList(
            nn.Parameter(torch.empty(rows, width)) for rows, width in tables)
        self.out_projs = nn.ParameterList()
        self.proj_index: list[int | None] = []   # cluster i -> own projection index, or None (tied / identity)
        for i, width in enumerate(widths):
            needs_proj = div_val != 1 or d_embed != d_model
            if needs_proj and not self.tie_projs[i]:
                self.proj_index.append(len(self.out_projs))
                self.out_projs.append(nn.Parameter(torch.empty(d_model, width)))
            else:
                self.proj_index.append(None)
        tag(self, "head")

    def _proj(self, i: int) -> torch.Tensor | None:
        if self.proj_index[i] is not None:
            return self.out_projs[self.proj_index[i]]
        embedding = self.embedding[0]
        if not len(embedding.emb_projs):
            return None
        return embedding.emb_projs[0 if self.div_val == 1 else i]

    def _weight_bias(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.out_weights if self.out_weights is not None else [e.weight for e in self.embedding[0].emb_layers]
        if self.div_val == 1:
            lo, hi = self.bounds[i], self.bounds[i + 1]
            return weights[0][lo:hi], self.out_biases[0][lo:hi]
        return weights[i], self.out_biases[i]

    @staticmethod
    def _logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, proj: torch.Tensor | None):
        if proj is not None:
            hidden = hidden @ proj
        return F.linear(hidden, weight, bias)

    def head_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The head cluster's logits for ``hidden`` (N x d_model): the shortlist's words, then one per tail cluster."""
        weight, bias = self._weight_bias(0)
        if self.n_clusters:
            weight = torch.cat([weight, self.cluster_weight])
            bias = torch.cat([bias, self.cluster_bias])
        return self._logits(hidden, weight, bias, self._proj(0))

    def forward(self, hidden: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each ``target`` token given ``hidden`` (N x d_model) -> (N,)."""
        head = self.head_logits(hidden).log_softmax(-1)
        # One gather reads every token's head log-probability: its own word in the shortlist, else its cluster's
        # logit. (Indexing rows per cluster instead makes each backward allocate and add head-sized zero tensors,
        # which cost GPT-2's probe pass more than its attention did.)
        shortlist = self.bounds[1]
        cluster = torch.bucketize(target, torch.tensor(self.bounds[1:], device=target.device), right=True)
        column = torch.where(cluster == 0, target, shortlist + cluster - 1)
        nll = -head.gather(1, column.unsqueeze(1)).squeeze(1)
        for i in range(1, len(self.bounds) - 1):
            index = (cluster == i).nonzero().squeeze(-1)
            if not index.numel():
                continue
            local = (target[index] - self.bounds[i]).unsqueeze(1)
            tail = self._logits(hidden[index], *self._weight_bias(i), self._proj(i)).log_softmax(-1)
            nll = nll.index_add(0, index, -tail.gather(1, local).squeeze(1))
        return nll
