"""Proxies by name, weight-only and data-dependent, in one registry. Importing this package registers them all."""
from . import data, supervised, weights  # noqa: F401  (registers)
from .evaluate import proxy_values
from .probe_table import data_proxy_table, probe_proxies
from .registry import PROXIES, Proxy, ProxyContext, ProxyResult, get_proxy, probe_proxy, register_proxy

__all__ = ["PROXIES", "Proxy", "ProxyContext", "ProxyResult", "data_proxy_table", "get_proxy", "probe_proxies",
           "probe_proxy", "proxy_values", "register_proxy"]
