"""The FlexiBERT family (NAS-Bench-BERT): one JSON file of encoder architectures with GLUE scores.

Three builders read a config (``model``): ``as-trained`` (default), ``spec`` and ``legacy``. The probe's task is
binary classification of the mean-pooled hidden states by a fixed random linear head against random labels.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..base import BenchmarkFamily
from ..listing import FAMILY_FACTS
from .data import load_flexibert
from .model import MAX_POSITIONS, VOCAB, FlexiBertModel, build_flexibert

PROBE_SHAPE = (16, 128)


def probe_seq(config: dict[str, Any], requested: int | None) -> int:
    """The probe's sequence length: the requested one (default 128), at most the 512 learned positions."""
    return min(requested or PROBE_SHAPE[1], MAX_POSITIONS)


def classification_loss(hidden: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Cross-entropy of a fixed random linear head (seeded, N(0, 0.02)) on the hidden states' mean over tokens."""
    generator = torch.Generator().manual_seed(seed + 1)
    weight = (torch.randn(2, hidden.shape[-1], generator=generator, dtype=hidden.dtype) * 0.02).to(hidden.device)
    return nn.functional.cross_entropy(hidden.mean(dim=1) @ weight.T, labels)


def task_loss(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, seed: int):
    """(final hidden states, ``classification_loss`` of them)."""
    hidden = model(ids)
    return hidden, classification_loss(hidden, labels, seed)


FAMILY = BenchmarkFamily(
    **FAMILY_FACTS["flexibert"].fields(), load=load_flexibert, build=build_flexibert, vocab_size=lambda config: VOCAB,
    probe_shape=PROBE_SHAPE, probe_seq=probe_seq, task_loss=task_loss, input_embedding=lambda model: model.embeddings,
    model_class=FlexiBertModel)

__all__ = ["FAMILY", "build_flexibert", "load_flexibert"]
