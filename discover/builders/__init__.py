"""Model builders: an architecture record -> a seeded, initialised torch model."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import UnknownNameError
from ..records import Arch
from ..registry import FAMILY_BUILDERS, Benchmark
from .flexibert import build_flexibert
from .gpt2 import build_gpt2


def build_model(benchmark: Benchmark, arch: Arch | str, builder: str | None = None, seed: int = 0,
                device: str | torch.device = "cpu") -> nn.Module:
    """Build ``arch`` of ``benchmark`` with ``builder`` (default: the benchmark's first, ``as-trained``)."""
    arch = benchmark.arch(arch) if isinstance(arch, str) else arch
    choices = FAMILY_BUILDERS[benchmark.spec.family]
    builder = builder or choices[0]
    if builder not in choices:
        raise UnknownNameError(f"builder for {benchmark.name}", builder, choices)
    if benchmark.spec.family == "flexibert":
        return build_flexibert(arch.config, builder, seed=seed, device=device)
    return build_gpt2(arch.config, seed=seed, device=device)


__all__ = ["build_model", "build_flexibert", "build_gpt2"]
