"""Benchmarks: families of search spaces, the published benchmarks, their loaders, model builders and downloads.

The names below are imported on first use (PEP 562): ``listing`` (what ``zc-discover benchmarks`` prints) needs no
torch, and importing it must not load every family's models.
"""
import importlib

_EXPORTS = {
    **dict.fromkeys(["Arch", "Benchmark", "BenchmarkFamily", "BenchmarkSpec"], "base"),
    **dict.fromkeys(["FAMILIES", "SPECS", "build_model", "family_of_model", "fetch_benchmark", "get_spec",
                     "load_benchmark"], "catalog"),
    "from_builder": "custom",
}

__all__ = ["Arch", "Benchmark", "BenchmarkFamily", "BenchmarkSpec", "FAMILIES", "SPECS", "build_model", "family_of_model",
           "fetch_benchmark", "from_builder", "get_spec", "load_benchmark"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module != "custom":
        importlib.import_module(".custom", __name__)   # attaches Benchmark.from_builder, as importing it always did
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
