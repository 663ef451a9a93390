"""Seeded, deterministic weight initialisation shared by every builder.

Models are constructed on the meta device (no memory, no default init) and then materialised and initialised here
exactly once, which is both faster and independent of torch's default initialisers.

Each parameter is drawn from its own generator, seeded by the run seed, the parameter's name and its shape. Two
architectures that share a parameter (same name, same shape) therefore get the same values for it: common random
numbers, so that the differences between their proxy scores come from the architectures rather than from init noise.
It also lets the work be shared: a drawn parameter is fully named by its ``InitKey``, so its draw (and anything
computed from it, such as its spectrum) can be cached and reused across architectures.
"""
from __future__ import annotations

import contextlib
import zlib
from collections import OrderedDict
from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import nn

DEFAULT_STD = 0.02
INIT_VERSION = 1      # bump when the values a seed produces change: feature caches are keyed by it
CACHE_BYTES = 256 * 2**20


class InitKey(NamedTuple):
    """Everything that determines a drawn parameter: N(mean, std) of ``shape`` from (seed, name)."""

    seed: int
    name: str
    shape: tuple[int, ...]
    std: float
    mean: float = 0.0


def arch_seed(seed: int, label: str) -> int:
    """A 32-bit seed that depends only on the run seed and a label (never on worker order)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(str(label).encode())]).generate_state(1)[0])


_draws: OrderedDict[InitKey, torch.Tensor] = OrderedDict()
_cached_bytes = 0


def draw(key: InitKey, cache: bool = True) -> torch.Tensor:
    """The values of a drawn parameter; memoised (LRU, bounded by CACHE_BYTES) on the CPU unless ``cache`` is off."""
    global _cached_bytes
    if key in _draws:
        _draws.move_to_end(key)
        return _draws[key]
    generator = torch.Generator().manual_seed(arch_seed(key.seed, f"{key.name}:{key.shape}"))
    values = torch.empty(key.shape).normal_(key.mean, key.std, generator=generator)
    if not cache:
        return values
    _draws[key] = values
    _cached_bytes += values.nbytes
    while _cached_bytes > CACHE_BYTES and len(_draws) > 1:
        _cached_bytes -= _draws.popitem(last=False)[1].nbytes
    return values


def shrink_draw_cache(max_bytes: int) -> None:
    """Evict the least recently used draws until the cache holds at most ``max_bytes``."""
    global _cached_bytes
    while _cached_bytes > max_bytes and _draws:
        _cached_bytes -= _draws.popitem(last=False)[1].nbytes


def clear_draw_cache() -> None:
    """Forget every memoised draw."""
    global _cached_bytes
    _draws.clear()
    _cached_bytes = 0


StdOf = Callable[[str], "float | tuple[float, float] | None"]


def init_plan(model: nn.Module, seed: int, std: float = DEFAULT_STD, std_of: StdOf | None = None
              ) -> dict[str, InitKey | float]:
    """For each parameter: its ``InitKey`` if drawn, else the constant it is filled with.

    Like the original code: Linear/Embedding/Conv weights and bare parameters ~ N(0, std), biases 0, LayerNorm
    weight 1 and bias 0. ``std_of(name)`` overrides any parameter, biases and norms included: a float draws
    N(0, that), a pair ``(mean, std)`` draws N(mean, std), None keeps the rule above.
    """
    plan: dict[str, InitKey | float] = {}
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            override = std_of(full) if std_of else None
            if override is not None:
                mean, scale = override if isinstance(override, tuple) else (0.0, override)
                plan[full] = InitKey(int(seed), full, tuple(param.shape), float(scale), float(mean))
            elif isinstance(module, nn.LayerNorm):
                plan[full] = 1.0 if param_name == "weight" else 0.0
            elif param_name.endswith("bias"):
                plan[full] = 0.0
            else:
                plan[full] = InitKey(int(seed), full, tuple(param.shape), float(std))
    return plan


_DEFAULT_INITIALISED = (nn.Linear, nn.Embedding, nn.LayerNorm, nn.Conv1d)


def _skip(self) -> None:
    """Stands in for torch's default initialisers while a model is built: every value is set by the plan."""


@contextlib.contextmanager
def _without_default_init():
    # torch's default init would run once per module on the meta device - pure overhead (about half of the time
    # to build a FlexiBERT model there), since materialise overwrites every parameter anyway.
    saved = {cls: cls.__dict__.get("reset_parameters") for cls in _DEFAULT_INITIALISED}
    for cls in _DEFAULT_INITIALISED:
        cls.reset_parameters = _skip
    try:
        yield
    finally:
        for cls, method in saved.items():
            if method is None:  # inherited (Conv1d): remove the stand-in to expose the base class's again
                del cls.reset_parameters
            else:
                cls.reset_parameters = method


def materialise(build: Callable[[], nn.Module], seed: int, std: float = DEFAULT_STD, std_of: StdOf | None = None,
                device: str | torch.device = "cpu") -> nn.Module:
    """Build on the meta device, then (unless ``device`` is meta) materialise on ``device`` and initialise.

    The model keeps its plan as ``model.zc_init`` (parameter name -> InitKey or constant), which lets featurization
    reuse the statistics of parameters it has already measured.
    """
    with torch.device("meta"), _without_default_init():
        model = build()
    plan = init_plan(model, seed, std, std_of)
    if torch.device(device).type != "meta":
        model.to_empty(device=device)
        params = dict(model.named_parameters(remove_duplicate=False))
        with torch.no_grad():
            for name, how in plan.items():
                if isinstance(how, InitKey):
                    params[name].copy_(draw(how))
                else:
                    params[name].fill_(how)
    model.zc_init = plan
    model.eval()
    return model
