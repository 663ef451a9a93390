"""Benchmarks: families of search spaces, the published benchmarks, their loaders, model builders and downloads."""
from .base import Arch, Benchmark, BenchmarkFamily, BenchmarkSpec
from .catalog import FAMILIES, SPECS, build_model, family_of_model, fetch_benchmark, get_spec, load_benchmark
from .custom import from_builder   # also attaches Benchmark.from_builder

__all__ = ["Arch", "Benchmark", "BenchmarkFamily", "BenchmarkSpec", "FAMILIES", "SPECS", "build_model", "family_of_model",
           "fetch_benchmark", "from_builder", "get_spec", "load_benchmark"]
