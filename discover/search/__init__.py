"""Discovery: typed genetic programming over feature tables, held-out folds, checkpoints, and the run it writes."""
from .driver import search_tables
from .loop import SearchConfig

__all__ = ["SearchConfig", "search_tables"]
