"""Feature tables: every architecture of a benchmark measured from its real model, cached on disk."""
from .columns import NOT_FEATURES, formula_features, table_columns
from .table import featurize, featurize_model

__all__ = ["NOT_FEATURES", "featurize", "featurize_model", "formula_features", "table_columns"]
