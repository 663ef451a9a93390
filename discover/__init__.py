"""zc-discover: discover zero-cost proxies for Transformer architecture search.

The Python API behind every CLI verb (see ``discover.api``)::

    from discover import ProxySearch, compare, featurize, load_benchmark, score_proxy
    bench = load_benchmark("nas-bench-bert")
    print(score_proxy(bench, "zerolm")["kendall"])
    search = ProxySearch(seed=0, output="runs/bert").fit(bench)
    print(search.formula_, search.metrics_["heldout"])

The names below are imported on first use (PEP 562), so that ``import discover`` and the command line's ``--help``
do not pay for torch, pandas and scipy before anything needs them.
"""
from __future__ import annotations

import importlib
import importlib.util

from .version import __version__

# public name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(["ProxySearch", "check_device", "compare", "compare_pruning", "compare_robustness", "featurize",
                     "load_run", "measure_pruning_space",
                     "probe_values", "prune_model", "score_model", "score_proxy"], "api"),
    **dict.fromkeys(["Benchmark", "build_model", "fetch_benchmark", "get_spec", "load_benchmark"], "benchmarks"),
    **dict.fromkeys(["ConfigError", "DataError", "NotFittedError", "UnknownNameError", "ZcDiscoverError"], "errors"),
    "Formula": "formula",
    "engine": "parallel",
}

__all__ = ["__version__", "ProxySearch", "load_benchmark", "featurize", "score_proxy", "score_model", "compare",
           "compare_pruning", "compare_robustness", "load_run", "measure_pruning_space", "probe_values",
           "prune_model", "engine",
           "build_model", "fetch_benchmark", "get_spec", "Benchmark", "Formula", "check_device",
           "ZcDiscoverError", "DataError", "ConfigError", "NotFittedError", "UnknownNameError"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:   # a submodule (``discover.cache``), as attribute access found it when everything was eager
        if name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module 'discover' has no attribute {name!r}")
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value   # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
