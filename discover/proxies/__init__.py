"""Proxies by name. Importing this package registers every built-in proxy."""
from . import weight_proxies  # noqa: F401  (registers)
from .registry import PROXIES, Proxy, ProxyContext, ProxyResult, get_proxy, register_proxy
from ..zc.compute import register_with_main_registry

register_with_main_registry()

__all__ = ["PROXIES", "Proxy", "ProxyContext", "ProxyResult", "get_proxy", "register_proxy"]
