"""The probe batch: seeded random token ids (and random labels where a task loss needs them).

The literature computed these proxies on real text (e.g. WikiText or the GLUE training sets). Random tokens keep the
benchmark offline and reproducible; the README reports where that moves the numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..benchmarks import BenchmarkFamily


@dataclass(frozen=True)
class Batch:
    """A probe batch: token ids, labels (for classification tasks) and the seed it was drawn from."""
    ids: torch.Tensor       # (batch, seq) token ids
    labels: torch.Tensor    # (batch,) random binary labels (FlexiBERT's task loss)
    seed: int

    def to(self, device: str | torch.device) -> "Batch":
        """The same batch on ``device`` (drawn on the CPU, so every device sees the same tokens)."""
        return Batch(self.ids.to(device), self.labels.to(device), self.seed)


def make_batch(vocab: int, batch: int, seq: int, seed: int = 0) -> Batch:
    """``batch`` sequences of ``seq`` token ids uniform over ``vocab``, and ``batch`` binary labels, from ``seed``."""
    generator = torch.Generator().manual_seed(int(seed))
    ids = torch.randint(0, vocab, (batch, seq), generator=generator)
    labels = torch.randint(0, 2, (batch,), generator=generator)
    return Batch(ids, labels, int(seed))


def batch_for(family: BenchmarkFamily, config: dict[str, Any], batch: int | None = None, seq: int | None = None,
              seed: int = 0) -> Batch:
    """The probe batch of one architecture: the family's default shape unless ``batch`` / ``seq`` are given."""
    return make_batch(family.vocab_size(config), batch or family.probe_shape[0], family.probe_seq(config, seq), seed)
