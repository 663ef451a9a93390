"""The installed version of zc-discover (from the package metadata)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zc-discover")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
