"""What can be measured about a model from its weights: sub-module decomposition and per-tensor statistics.

Knows nothing of benchmarks or search.
"""
from .roles import ROLES, tag

__all__ = ["ROLES", "tag"]
