"""The probe batch: seeded random token ids (and random labels where a proxy needs a task loss).

The literature computed these proxies on real text (e.g. WikiText or the GLUE training sets). Random tokens keep the
benchmark offline and reproducible; the README reports where that moves the numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

DEFAULT_SHAPES = {"flexibert": (16, 128), "gpt2": (16, 192)}
VOCAB = {"flexibert": 30522}


@dataclass(frozen=True)
class Batch:
    ids: torch.Tensor       # (batch, seq) token ids
    labels: torch.Tensor    # (batch,) random binary labels (FlexiBERT's task loss)
    seed: int


def make_batch(family: str, vocab: int, batch: int | None = None, seq: int | None = None, seed: int = 0) -> Batch:
    default_batch, default_seq = DEFAULT_SHAPES[family]
    batch, seq = batch or default_batch, seq or default_seq
    generator = torch.Generator().manual_seed(int(seed))
    ids = torch.randint(0, vocab, (batch, seq), generator=generator)
    labels = torch.randint(0, 2, (batch,), generator=generator)
    return Batch(ids, labels, int(seed))
