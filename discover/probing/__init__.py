"""Probing a model with a batch of tokens: the shared forward and backward passes of the data-dependent proxies."""
from .inputs import Batch, batch_for, make_batch
from .run import ProbeRun

__all__ = ["Batch", "ProbeRun", "batch_for", "make_batch"]
