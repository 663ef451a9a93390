"""The proxy registry: a name -> an implementation, with its citation; duplicates are rejected."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from ..registry import Benchmark


@dataclass
class ProxyContext:
    """What a proxy may look at: the benchmark, its feature table (rows = the evaluated architectures)."""

    benchmark: Benchmark
    table: pd.DataFrame
    builder: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProxyResult:
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Proxy:
    name: str
    function: Callable[[ProxyContext], ProxyResult]
    citation: str
    description: str
    needs_data: bool = False
    needs_gradients: bool = False
    uses_features: bool = True   # computed from the feature table (its cost includes featurization)


PROXIES: dict[str, Proxy] = {}


def register_proxy(name: str, citation: str, description: str, needs_data: bool = False,
                   needs_gradients: bool = False, uses_features: bool = True):
    def decorator(function: Callable[[ProxyContext], ProxyResult]):
        if name in PROXIES:
            raise ValueError(f"proxy {name!r} is registered twice")
        PROXIES[name] = Proxy(name, function, citation, description, needs_data, needs_gradients, uses_features)
        return function
    return decorator


def get_proxy(name: str) -> Proxy:
    if name not in PROXIES:
        raise UnknownNameError("proxy", name, PROXIES)
    return PROXIES[name]
