"""Benchmarks: families of search spaces, the published benchmarks, their loaders, model builders and downloads."""
from .base import Arch, Benchmark, BenchmarkFamily, BenchmarkSpec
from .catalog import FAMILIES, SPECS, build_model, family_of_model, fetch_benchmark, get_spec, load_benchmark

__all__ = ["Arch", "Benchmark", "BenchmarkFamily", "BenchmarkSpec", "FAMILIES", "SPECS", "build_model", "family_of_model",
           "fetch_benchmark", "get_spec", "load_benchmark"]
