"""Discovery: typed genetic programming over feature tables, held-out folds, checkpoints, and the run it writes."""
from .config import SearchConfig


def __getattr__(name: str):
    if name == "search_tables":   # the driver imports pandas, DEAP and the run folder: loaded when a search runs
        from .driver import search_tables
        return search_tables
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SearchConfig", "search_tables"]
