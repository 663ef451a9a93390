"""Published per-architecture proxy values, read and matched key for key against a benchmark.

Two layouts are read: a CSV with one row per architecture (an id column and one column per proxy, as
training-free-nas and LPZero released for NAS-Bench-BERT), and a folder of ``<proxy>_scores_seed_<s>.yaml`` files
mapping job keys to values (LPZero's LTS logs). Keys must match the benchmark's architecture ids exactly: a missing or
extra key, a value that is not a finite number, or a different architecture count is one clear error, never a silent
drop.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import yaml

from .benchmarks import Benchmark
from .errors import DataError

_SCORES = re.compile(r"^(?P<proxy>.+)_scores_seed_(?P<seed>\d+)\.yaml$")


def read_reference(path: str | Path, id_column: str = "ID") -> pd.DataFrame:
    """Released values as a table: ``arch_id`` and one column per released proxy (floats).

    Parameters
    ----------
    path : str or Path
        A CSV file (one row per architecture) or a folder of ``<proxy>_scores_seed_<s>.yaml`` files.
    id_column : str
        The CSV's architecture id column.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        For a file that cannot be read, a missing id column, duplicated ids, or YAML files whose keys differ.
    """
    path = Path(path)
    if path.is_dir():
        columns: dict[str, dict[str, object]] = {}
        for file in sorted(path.glob("*_scores_seed_*.yaml")):
            try:
                values = yaml.safe_load(file.read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise DataError(f"cannot read reference file {file}: {str(exc).splitlines()[0]}") from None
            if not isinstance(values, dict):
                raise DataError(f"reference file {file} is not a mapping of architecture key -> value")
            columns[_SCORES.match(file.name)["proxy"]] = {str(k): v for k, v in values.items()}
        if not columns:
            raise DataError(f"{path} holds no <proxy>_scores_seed_<s>.yaml files")
        keys = {name: set(values) for name, values in columns.items()}
        first = next(iter(keys.values()))
        for name, found in keys.items():
            if found != first:
                raise DataError(f"reference {path}: {name} has keys the other files lack or lacks theirs "
                                f"({', '.join(sorted(found ^ first)[:5])})")
        ids = sorted(first)
        table = pd.DataFrame({"arch_id": ids, **{n: [v[i] for i in ids] for n, v in columns.items()}})
    else:
        try:
            table = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read reference file {path}: {type(exc).__name__}") from None
        if id_column not in table.columns:
            raise DataError(f"reference file {path} has no {id_column!r} column")
        table = table.rename(columns={id_column: "arch_id"})
        table["arch_id"] = table["arch_id"].astype(str)
    if table["arch_id"].duplicated().any():
        raise DataError(f"reference {path} lists an architecture more than once: "
                        f"{table.loc[table['arch_id'].duplicated(), 'arch_id'].iloc[0]}")
    for column in table.columns.drop("arch_id"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def align_reference(reference: pd.DataFrame, benchmark: Benchmark, columns: list[str]) -> pd.DataFrame:
    """The reference's ``columns`` in the benchmark's architecture order; every key must match exactly.

    Raises
    ------
    DataError
        Naming the first missing or extra key, the architecture counts, or the first value that is not finite.
    """
    ids = [a.id for a in benchmark.archs]
    given = set(reference["arch_id"])
    missing, extra = sorted(set(ids) - given), sorted(given - set(ids))
    if missing or extra or len(reference) != len(ids):
        raise DataError(f"the reference holds {len(reference)} architectures and {benchmark.name} {len(ids)}; "
                        f"missing from the reference: {', '.join(missing[:5]) or 'none'}; not in {benchmark.name}: "
                        f"{', '.join(extra[:5]) or 'none'}. The keys must match exactly.")
    unknown = [c for c in columns if c not in reference.columns]
    if unknown:
        raise DataError(f"the reference has no column {unknown[0]!r}; it has {', '.join(reference.columns[1:])}")
    table = reference.set_index("arch_id").loc[ids, columns].reset_index()
    for column in columns:
        bad = table.loc[~table[column].map(lambda v: isinstance(v, float) and math.isfinite(v)), "arch_id"]
        if len(bad):
            raise DataError(f"reference column {column!r} is not a finite number for {len(bad)} architecture(s), "
                            f"first {bad.iloc[0]}")
    return table
