"""zc-discover: discover zero-cost proxies for Transformer architecture search.

The Python API behind every CLI verb::

    from discover import load_benchmark, build_model, featurize
    bench = load_benchmark("nas-bench-bert")
    model = build_model(bench, "0", builder="as-trained", seed=0)
    table = featurize(bench)
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zc-discover")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

from .builders import build_model  # noqa: E402
from .errors import ConfigError, DataError, UnknownNameError, ZcDiscoverError  # noqa: E402
from .featurize import featurize  # noqa: E402
from .fetch import fetch  # noqa: E402
from .registry import Benchmark, get_spec, load_benchmark  # noqa: E402

__all__ = ["__version__", "load_benchmark", "get_spec", "Benchmark", "build_model", "featurize", "fetch",
           "ZcDiscoverError", "DataError", "ConfigError", "UnknownNameError"]
