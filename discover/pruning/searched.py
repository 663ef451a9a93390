"""A stored pruning space as a table the formula search reads: ``zc-discover search pruning:MODEL-KIND``.

The table is ``table.space_table`` of the stored space: the kept sub-network's weight features, and the removed
units' statistics - the zero-cost ones alone (``weights``) or with every statistic of the calibration batch
(``calibration``, what ``--with-activations`` asks for on a pruning space: activations of real text). Its digest
(of the stored files' bytes) goes into the run folder, as a benchmark's checksum does.
"""
from __future__ import annotations

import os

import pandas as pd

from .compare import PREFIX, locate_space
from .space_values import read_space
from .table import space_table


def is_pruning_space(name: object) -> bool:
    """Whether ``name`` names a stored pruning space (``pruning:MODEL-KIND``) rather than a benchmark."""
    return isinstance(name, str) and name.startswith(PREFIX)


def pruning_search_table(name: str, with_calibration: bool = False,
                         root: str | os.PathLike | None = None) -> tuple[str, pd.DataFrame, str]:
    """(the space's name, its search table, the sha256 of its stored files) for ``pruning:MODEL-KIND`` (or
    ``pruning:DIR/MODEL-KIND``); with ``with_calibration``, the table also holds the removed units' calibration
    statistics."""
    model, kind, folder = locate_space(name, root)
    candidates, units, _ = read_space(model, kind, folder)
    table = space_table(candidates, units, kind, "calibration" if with_calibration else "weights")
    own = folder is not None and root is None   # a space of your own keeps its folder in its name
    return f"{PREFIX}{folder / model if own else model}-{kind}", table, candidates.attrs["files_sha256"]
