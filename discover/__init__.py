"""zc-discover: discover zero-cost proxies for Transformer architecture search.

The Python API behind every CLI verb (see ``discover.api``)::

    from discover import ProxySearch, compare, featurize, load_benchmark, score_proxy
    bench = load_benchmark("nas-bench-bert")
    print(score_proxy(bench, "zerolm")["kendall"])
    search = ProxySearch(seed=0, output="runs/bert").fit(bench)
    print(search.formula_, search.metrics_["heldout"])
"""
from .version import __version__
from .api import (ProxySearch, check_device, compare, featurize, load_run, probe_values, prune_model, score_model,  # noqa: E402
                  score_proxy)
from .benchmarks import Benchmark, build_model, fetch_benchmark, get_spec, load_benchmark  # noqa: E402
from .errors import ConfigError, DataError, UnknownNameError, ZcDiscoverError  # noqa: E402
from .formula import Formula  # noqa: E402
from .parallel import engine  # noqa: E402

__all__ = ["__version__", "ProxySearch", "load_benchmark", "featurize", "score_proxy", "score_model", "compare",
           "load_run", "probe_values", "prune_model", "engine",
           "build_model", "fetch_benchmark", "get_spec", "Benchmark", "Formula", "check_device",
           "ZcDiscoverError", "DataError", "ConfigError", "UnknownNameError"]
