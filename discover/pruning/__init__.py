"""Pruning trained language models: unit statistics of a calibration batch, the published criteria, the stored
spaces, the feature tables the search reads, and ``prune_model`` (which sub-network each method ships)."""
from .criteria import CRITERIA, Criterion, criteria_for, get_criterion
from .ship import parse_share, prune_model

__all__ = ["CRITERIA", "Criterion", "criteria_for", "get_criterion", "parse_share", "prune_model"]
