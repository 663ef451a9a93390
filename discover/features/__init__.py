"""Feature tables: every architecture of a benchmark measured from its real model, cached on disk."""
from .columns import NOT_FEATURES, formula_features, is_not_feature, structure_columns, table_columns
from .table import featurize, featurize_model, structure_table

__all__ = ["NOT_FEATURES", "featurize", "featurize_model", "formula_features", "is_not_feature", "structure_columns",
           "structure_table", "table_columns"]
