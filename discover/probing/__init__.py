"""Probing a model with a batch of tokens: the shared forward and backward passes of the data-dependent proxies."""
from .inputs import TOKEN_DISTRIBUTIONS, Batch, batch_for, make_batch
from .run import GRADIENT_SOURCES, ProbeRun
from .settings import ProbeSettings

__all__ = ["Batch", "GRADIENT_SOURCES", "ProbeRun", "ProbeSettings", "TOKEN_DISTRIBUTIONS", "batch_for", "make_batch"]
