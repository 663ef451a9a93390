"""The one proxy registry: every proxy, weight-only or data-dependent, by name, saying what it needs.

Two kinds of implementation share it:
- *table* proxies are ``function(ctx: ProxyContext) -> ProxyResult`` over the feature table (or the models' shapes);
- *probe* proxies are ``function(run: ProbeRun) -> float`` on one probed model; ``probe_table`` runs them over a
  benchmark, caches their scores and keeps failures (``evaluate`` dispatches either kind).

``needs`` lists what computing it takes: ``counts`` (parameter counts and FLOPs from the models' shapes, no weight
drawn: ``features.structure_table``), ``weights`` (the weight-feature table), ``shapes`` (the models' structure
only), ``labels`` (trained quality, e.g. to fit ZeroLM's alpha), ``probe`` (forward passes on a probe batch) and
``gradients`` (backward passes too). Registering a name twice is an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..benchmarks import Benchmark
from ..errors import UnknownNameError

NEEDS = ("counts", "weights", "shapes", "labels", "probe", "gradients")


@dataclass
class ProxyContext:
    """What a table proxy may look at: the benchmark and its feature table (rows = the evaluated architectures)."""

    benchmark: Benchmark
    table: pd.DataFrame
    builder: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProxyResult:
    """A proxy's scores (one per row of the context's table) and what it wants reported (``info``)."""
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Proxy:
    """A registered proxy.

    Attributes
    ----------
    name, citation, description : str
    needs : tuple of str
        Subset of ``NEEDS``.
    function : callable
        ``(ProxyContext) -> ProxyResult`` for a table proxy, ``(ProbeRun) -> float`` for a probe proxy.
    passes : tuple of str
        Probe passes it reads (``task``, ``codes``, ``synflow``, ``lpzero_synflow``, ``grasp``): its cost when
        computed alone; ``linear_outputs`` where it reads the task pass's record of every linear layer's output
        (kept only when a requested proxy names it).
    version : int
        Bumped when its definition changes, so that only its own cached scores are recomputed.
    """

    name: str
    citation: str
    description: str
    needs: tuple[str, ...]
    function: Callable
    passes: tuple[str, ...] = ()
    version: int = 1

    @property
    def needs_probe(self) -> bool:
        """Whether it runs forward passes on a probe batch."""
        return "probe" in self.needs

    @property
    def needs_gradients(self) -> bool:
        """Whether it runs backward passes too."""
        return "gradients" in self.needs

    @property
    def counts_only(self) -> bool:
        """Computed from the models' parameter counts (and the labels) alone (``features.structure_table``: seconds,
        no SVD)."""
        return "counts" in self.needs and set(self.needs) <= {"counts", "labels"}

    @property
    def uses_features(self) -> bool:
        """Computed from the weight-feature table (its cost includes featurization)."""
        return "weights" in self.needs


PROXIES: dict[str, Proxy] = {}


def register_proxy(name: str, citation: str, description: str, needs: tuple[str, ...] = ("weights",),
                   passes: tuple[str, ...] = (), version: int = 1):
    """Decorator registering ``function`` as the proxy ``name``."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise ValueError(f"proxy {name!r}: unknown needs {unknown}; choose from {NEEDS}")

    def decorator(function: Callable):
        if name in PROXIES:
            raise ValueError(f"proxy {name!r} is registered twice")
        PROXIES[name] = Proxy(name, citation, description, tuple(needs), function, tuple(passes), version)
        function.__doc__ = function.__doc__ or f"{description} ({citation})."
        return function
    return decorator


def probe_proxy(name: str, citation: str, description: str, passes: tuple[str, ...], gradients: bool = True,
                version: int = 1):
    """Decorator registering a data-dependent proxy: ``function(run: ProbeRun) -> float``, higher = better."""
    needs = ("probe", "gradients") if gradients else ("probe",)
    return register_proxy(name, citation, description, needs, passes, version)


def get_proxy(name: str) -> Proxy:
    """The proxy registered as ``name`` (``UnknownNameError`` with the closest names otherwise)."""
    if name not in PROXIES:
        raise UnknownNameError("proxy", name, PROXIES)
    return PROXIES[name]
