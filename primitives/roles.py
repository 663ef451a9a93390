"""Sub-module roles, and how a model tells the decomposition which role and layer each part plays.

A model built by zc-discover tags its modules with two attributes: ``zc_role`` (one of ``ROLES``) and ``zc_layer``
(the index of the Transformer layer). A parameter takes the role and layer of its nearest tagged ancestor, so a
builder tags a block once instead of every tensor.
"""
from __future__ import annotations

from torch import nn

ROLES = ("embedding", "attention", "mixing", "ffn", "norm", "head")
ROLE_ATTR = "zc_role"
LAYER_ATTR = "zc_layer"


def tag(module: nn.Module, role: str | None = None, layer: int | None = None) -> nn.Module:
    """Mark ``module`` (and, by inheritance, its children) with a role and/or a layer index; returns it."""
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        setattr(module, ROLE_ATTR, role)
    if layer is not None:
        setattr(module, LAYER_ATTR, int(layer))
    return module
