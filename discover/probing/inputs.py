"""The probe batch: seeded token ids (and random labels where a task loss needs them).

The literature computed these proxies on real text (e.g. WikiText or OpenWebText). Tokens are drawn offline and
reproducibly, from one of three distributions (``tokens``):

- ``uniform`` (default): every id of the vocabulary equally likely.
- ``zipf``: id ``k`` with probability proportional to ``1 / (k + 1)``. The LTS vocabularies (WikiText-103 words) are
  sorted by frequency, so this is natural text's marginal distribution there; FlexiBERT's WordPiece ids are not.
- a text file (``text=PATH``): its whitespace-separated words, each given the id of its frequency rank in that file
  (most frequent 0; ranks past the vocabulary share its last id), read as ``batch`` windows of ``seq`` consecutive
  words at seeded offsets. No vocabulary file ships with the benchmarks, so this keeps real text's order and
  frequencies, not its exact ids.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..benchmarks import BenchmarkFamily
from ..errors import ConfigError, DataError, UnknownNameError

TOKEN_DISTRIBUTIONS = ("uniform", "zipf")


@dataclass(frozen=True)
class Batch:
    """A probe batch: token ids, labels (for classification tasks) and the seed it was drawn from."""
    ids: torch.Tensor       # (batch, seq) token ids
    labels: torch.Tensor    # (batch,) random binary labels (FlexiBERT's task loss)
    seed: int

    def to(self, device: str | torch.device) -> "Batch":
        """The same batch on ``device`` (drawn on the CPU, so every device sees the same tokens)."""
        return Batch(self.ids.to(device), self.labels.to(device), self.seed)


@lru_cache(maxsize=4)
def _text_ranks(path: str, mtime_ns: int) -> torch.Tensor:
    """Frequency-rank ids of a text file's words (cached per file version: every architecture reads the same)."""
    from ..files import read_bytes
    try:
        words = read_bytes(path, "probe text (--text)", limit=256 * 2**20).decode("utf-8", errors="replace").split()
    except DataError as exc:
        raise DataError(f"{exc}. Pass an existing text file with --text.") from None
    counts = Counter(words)
    # most frequent first; equal counts keep the order in which the words first appear (Counter is insertion-ordered)
    rank = {word: i for i, (word, _) in enumerate(sorted(counts.items(), key=lambda item: -item[1]))}
    return torch.tensor([rank[w] for w in words], dtype=torch.long)


def text_digest(path: str | Path) -> str:
    """sha256 of a probe text file (what a cache of its probe scores is keyed by, never its path)."""
    from ..files import read_bytes   # a regular file of bounded size: a FIFO or /dev/zero is refused, not read
    try:
        return hashlib.sha256(read_bytes(path, "probe text (--text)", limit=256 * 2**20)).hexdigest()
    except DataError as exc:
        raise DataError(f"{exc}. Pass an existing text file with --text.") from None


def _draw(vocab: int, batch: int, seq: int, generator: torch.Generator, tokens: str,
          text: str | Path | None) -> torch.Tensor:
    if text is not None:
        path = Path(text)
        ranks = _text_ranks(str(path.resolve()), path.stat().st_mtime_ns if path.exists() else 0)
        if len(ranks) < seq:
            raise DataError(f"the probe text {path} has {len(ranks)} words; a probe sequence needs {seq}. Pass a "
                            "longer text or a shorter --seq.")
        starts = torch.randint(0, len(ranks) - seq + 1, (batch,), generator=generator)
        windows = torch.stack([ranks[s:s + seq] for s in starts.tolist()])
        return windows.clamp(max=vocab - 1)
    if tokens == "uniform":
        return torch.randint(0, vocab, (batch, seq), generator=generator)
    if tokens == "zipf":
        weights = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float64)
        return torch.multinomial(weights, batch * seq, replacement=True, generator=generator).reshape(batch, seq)
    raise UnknownNameError("token distribution", tokens, TOKEN_DISTRIBUTIONS)


def make_batch(vocab: int, batch: int, seq: int, seed: int = 0, tokens: str = "uniform",
               text: str | Path | None = None) -> Batch:
    """``batch`` sequences of ``seq`` token ids below ``vocab`` and ``batch`` binary labels, from ``seed``.

    ``tokens`` names the distribution (``uniform`` or ``zipf``); ``text`` (a file) replaces it by real text's words.
    """
    if batch < 1 or seq < 1:
        raise ConfigError(f"a probe batch needs at least one sequence of one token, got batch={batch}, seq={seq}.")
    generator = torch.Generator().manual_seed(int(seed))
    ids = _draw(vocab, batch, seq, generator, tokens, text)
    labels = torch.randint(0, 2, (batch,), generator=generator)
    return Batch(ids, labels, int(seed))


def batch_for(family: BenchmarkFamily, config: dict[str, Any], batch: int | None = None, seq: int | None = None,
              seed: int = 0, tokens: str = "uniform", text: str | Path | None = None) -> Batch:
    """The probe batch of one architecture: the family's default shape unless ``batch`` / ``seq`` are given."""
    return make_batch(family.vocab_size(config), batch or family.probe_shape[0], family.probe_seq(config, seq), seed,
                      tokens, text)
