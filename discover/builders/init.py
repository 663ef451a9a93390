"""Seeded, deterministic weight initialisation shared by every builder.

Models are constructed on the meta device (no memory, no default init) and then materialised and initialised here
exactly once, which is both faster and independent of torch's default initialisers.

Each parameter is drawn from its own generator, seeded by the run seed, the parameter's name and its shape. Two
architectures that share a parameter (same name, same shape) therefore get the same values for it: common random
numbers, so that the differences between their proxy scores come from the architectures rather than from init noise.
It also lets the draws be cached: most FlexiBERT models repeat the same 30522 x 128 word embedding and a handful of
layer shapes, and copying a cached draw is several times cheaper than generating it again.
"""
from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import Callable

import numpy as np
import torch
from torch import nn

DEFAULT_STD = 0.02


def arch_seed(seed: int, arch_id: str) -> int:
    """A per-architecture seed that depends only on the run seed and the architecture id (not on worker order)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(str(arch_id).encode())]).generate_state(1)[0])


CACHE_BYTES = 256 * 2**20
_draws: OrderedDict[tuple, torch.Tensor] = OrderedDict()
_cached_bytes = 0


def _normal(seed: int, name: str, shape: torch.Size, std: float) -> torch.Tensor:
    """N(0, std) of ``shape`` from a generator of its own; memoised (LRU, bounded by CACHE_BYTES) on the CPU."""
    global _cached_bytes
    key = (int(seed), name, tuple(shape), float(std))
    if key in _draws:
        _draws.move_to_end(key)
        return _draws[key]
    generator = torch.Generator().manual_seed(arch_seed(seed, f"{name}:{tuple(shape)}"))
    draw = torch.empty(shape).normal_(0.0, std, generator=generator)
    _draws[key] = draw
    _cached_bytes += draw.nbytes
    while _cached_bytes > CACHE_BYTES and len(_draws) > 1:
        _cached_bytes -= _draws.popitem(last=False)[1].nbytes
    return draw


def materialise(build: Callable[[], nn.Module], seed: int, std: float = DEFAULT_STD,
                std_of: Callable[[str], float | None] | None = None, device: str | torch.device = "cpu"
                ) -> nn.Module:
    """Build on the meta device, move to ``device`` and initialise like the original code.

    Linear/Embedding/Conv weights and bare parameters ~ N(0, std) (``std_of(name)`` may override per parameter);
    biases 0; LayerNorm weight 1, bias 0. The same seed always gives the same model.
    """
    with torch.device("meta"):
        model = build()
    model.to_empty(device=device)
    with torch.no_grad():
        for module_name, module in model.named_modules():
            for param_name, param in module.named_parameters(recurse=False):
                if isinstance(module, nn.LayerNorm):
                    param.fill_(1.0 if param_name == "weight" else 0.0)
                elif param_name.endswith("bias"):
                    param.zero_()
                else:
                    full = f"{module_name}.{param_name}" if module_name else param_name
                    override = std_of(full) if std_of else None
                    param.copy_(_normal(seed, full, param.shape, std if override is None else override))
    model.eval()
    return model
