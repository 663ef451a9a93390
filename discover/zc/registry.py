"""Data-dependent proxies by name: each a function of a ``ProbeRun`` returning one float (higher = predicted better)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .probe import ProbeRun


@dataclass(frozen=True)
class DataProxy:
    name: str
    function: Callable[[ProbeRun], float]
    citation: str
    description: str
    passes: tuple[str, ...]          # the ProbeRun passes it reads: its cost when computed alone
    needs_gradients: bool = True
    version: int = 1                 # bump when its definition changes: only its own cached scores are recomputed


DATA_PROXIES: dict[str, DataProxy] = {}


def data_proxy(name: str, citation: str, description: str, passes: tuple[str, ...], needs_gradients: bool = True,
               version: int = 1):
    def decorator(function: Callable[[ProbeRun], float]):
        if name in DATA_PROXIES:
            raise ValueError(f"data proxy {name!r} is registered twice")
        DATA_PROXIES[name] = DataProxy(name, function, citation, description, passes, needs_gradients, version)
        return function
    return decorator
