"""The columns of a feature table, and which of them are not features (never offered to a formula or a search)."""
from __future__ import annotations

from collections.abc import Iterable

from primitives.combinators import MATRIX_ROLES, feature_names
from ..formula import RESERVED_NAMES, TARGET_PREFIX
from primitives.structure import structural_counts

# Identity and the quantity proxies are judged against: a formula may never read them.
NOT_FEATURES = RESERVED_NAMES


def is_not_feature(column: str) -> bool:
    """Whether a column is the id, the target or another target kept beside it (``target:<name>``): never offered
    to a search, never read by a formula."""
    return column in NOT_FEATURES or str(column).startswith(TARGET_PREFIX)


def table_columns() -> list[str]:
    """The columns every weight-feature table has (a cached table without them is stale), each once."""
    counts = [f"count_{role}" for role in MATRIX_ROLES]
    return list(dict.fromkeys(["arch_id", "target", "n_params", "flops", *structural_counts([]), *counts,
                               *feature_names()]))


def structure_columns() -> list[str]:
    """The columns a table of the models' shapes alone holds (``table.structure_table``: no weight is drawn): the
    parameter counts, FLOPs and layer counts that the size baselines read."""
    return list(dict.fromkeys(["arch_id", "target", "n_params", "flops", *structural_counts([])]))


def formula_features(columns: Iterable[str]) -> list[str]:
    """Columns a formula may use: every measured feature, never the id or the target."""
    return [c for c in columns if not is_not_feature(c)]
