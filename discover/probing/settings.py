"""What a probe is fed and where its gradients come from, in one value that caches are keyed by."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from torch import nn

from ..benchmarks import BenchmarkFamily
from ..errors import UnknownNameError
from .inputs import TOKEN_DISTRIBUTIONS, batch_for, text_digest
from .run import GRADIENT_SOURCES, ProbeRun


@dataclass(frozen=True)
class ProbeSettings:
    """Probe batch shape (``None``: the family's), token distribution or text file, and gradient source.

    The defaults are this project's probe: uniform random tokens, the family's task loss."""
    batch: int | None = None
    seq: int | None = None
    tokens: str = "uniform"
    text: str | None = None
    gradient: str = "task"

    def __post_init__(self):
        if self.tokens not in TOKEN_DISTRIBUTIONS:
            raise UnknownNameError("token distribution", self.tokens, TOKEN_DISTRIBUTIONS)
        if self.gradient not in GRADIENT_SOURCES:
            raise UnknownNameError("gradient source", self.gradient, GRADIENT_SOURCES)
        if self.text is not None:
            object.__setattr__(self, "text", str(Path(self.text)))

    def cache_key(self) -> dict[str, Any]:
        """The settings a cached score depends on; defaults are left out, so caches made before they existed stay
        valid. A text file enters by its content's sha256, never its path."""
        key: dict[str, Any] = {"batch": self.batch, "seq": self.seq}
        if self.text is not None:
            key["text"] = text_digest(self.text)
        elif self.tokens != "uniform":
            key["tokens"] = self.tokens
        if self.gradient != "task":
            key["gradient"] = self.gradient
        return key

    def describe(self) -> dict[str, Any]:
        """Every setting by name, the text by its content's sha256: what a values file records as its ``probe`` and
        what a request is compared with (the defaults spelled out, unlike ``cache_key``)."""
        return {"batch": self.batch, "seq": self.seq, "tokens": self.tokens,
                "text": text_digest(self.text) if self.text is not None else None, "gradient": self.gradient}

    def probe(self, model: nn.Module, family: BenchmarkFamily, config: dict[str, Any], seed: int,
              passes: Iterable[str] | None = None) -> ProbeRun:
        """A ProbeRun of ``model`` (of ``family``, built from ``config``) under these settings; ``passes``, the passes
        the proxies to be read need (default: all), lets it skip recording what none of them reads."""
        batch = batch_for(family, config, self.batch, self.seq, seed, self.tokens, self.text)
        return ProbeRun(model, batch, family, self.gradient,
                        record_linear_outputs=passes is None or "linear_outputs" in passes,
                        record_signals=passes is None or "signals" in passes)


__all__ = ["ProbeSettings"]
