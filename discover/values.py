"""Per-architecture values files: the long format (``arch_id, proxy, value, failure``, optionally ``seconds``) that
``compare -o`` writes as ``values.csv`` and ``experiments/probe_values.py`` writes after probing, read back with checks.

Reading them back lets a comparison use values probed elsewhere (a GPU machine, an earlier run) instead of probing
again, and lets any number in a report be rechecked. A file is plain CSV (nothing in it runs); the JSON beside it,
where there is one, names the benchmark and builder it was computed on, and a file of another benchmark or builder is
refused rather than silently compared.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError

VALUE_COLUMNS = ["arch_id", "proxy", "value", "failure"]


def provenance(path: str | Path) -> dict:
    """The JSON written beside a values file (``FILE.json`` by probe_values.py, ``compare.json`` by compare -o), or
    {} where there is none."""
    path = Path(path)
    for meta in (path.with_suffix(".json"), path.parent / "compare.json"):
        if meta.is_file():
            try:
                return json.loads(meta.read_text())
            except (OSError, ValueError) as error:
                raise DataError(f"{meta}: not readable JSON ({error}); delete it or write it again with the values "
                                "file") from None
    return {}


def read_values(paths: list[str | Path], benchmark: str | None = None, builder: str | None = None) -> pd.DataFrame:
    """Long values from one or more files, checked.

    Parameters
    ----------
    paths : list of str or Path
        Values files (CSV).
    benchmark, builder : str, optional
        What the values must have been computed on; a file whose JSON names another is an error.

    Returns
    -------
    pandas.DataFrame
        ``arch_id, proxy, value, failure`` (plus ``seconds`` where every file has it); one row per (id, proxy).

    Raises
    ------
    DataError
        A missing or unreadable file, a missing column, a value that is neither a number nor empty, the same (id,
        proxy) twice with different values, or a file computed on another benchmark or builder.
    """
    frames = []
    for path in map(Path, paths):
        try:
            frame = pd.read_csv(path, dtype={"arch_id": str, "proxy": str, "failure": str})
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise DataError(f"{path}: not a readable values file ({error}); write it with `zc-discover compare -o` "
                            "or experiments/probe_values.py") from None
        missing = [c for c in ("arch_id", "proxy", "value") if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: a values file needs the columns arch_id, proxy, value (failure, seconds "
                            f"optional); {missing} missing (columns found: {list(frame.columns)})")
        numbers = pd.to_numeric(frame["value"], errors="coerce")
        bad = frame["value"].notna() & numbers.isna()
        if bad.any():
            raise DataError(f"{path}: value {frame.loc[bad, 'value'].iloc[0]!r} of {frame.loc[bad, 'proxy'].iloc[0]} "
                            f"on {frame.loc[bad, 'arch_id'].iloc[0]} is not a number; fix or re-write the file")
        frame["value"] = numbers.astype(float)
        if "failure" not in frame.columns:
            frame["failure"] = None
        frames.append(frame)
    if not frames:
        raise DataError("no values files given")
    check_provenance(paths, benchmark, builder)
    values = pd.concat(frames, ignore_index=True)
    values = values[[c for c in VALUE_COLUMNS + ["seconds"] if c in values.columns]]
    clashing = values.groupby(["arch_id", "proxy"])["value"].nunique(dropna=False) > 1
    if clashing.any():
        arch_id, proxy = clashing[clashing].index[0]
        raise DataError(f"the values files give {proxy} on {arch_id} two different values; give one file per "
                        "probe setting")
    return values.drop_duplicates(["arch_id", "proxy"], ignore_index=True)


def check_provenance(paths: list[str | Path], benchmark: str | None = None, builder: str | None = None) -> None:
    """Refuse a values file whose JSON says it was computed on another benchmark or builder (``None``: not checked)."""
    for path in paths:
        meta = provenance(path)
        for key, wanted in (("benchmark", benchmark), ("builder", builder)):
            if wanted is not None and meta.get(key) not in (None, wanted):
                raise DataError(f"{path}: computed on {key} {meta[key]!r}, not {wanted!r}; give the values of "
                                f"{wanted} (experiments/probe_values.py writes them)")


def values_of(values: pd.DataFrame, proxy: str, ids: list[str]) -> tuple[np.ndarray, list[str | None]]:
    """(scores on ``ids`` in that order, failure reasons) of one proxy; every id must be there."""
    rows = values[values["proxy"] == proxy].set_index("arch_id")
    absent = [i for i in ids if i not in rows.index]
    if absent:
        raise DataError(f"the values files have no {proxy} for {len(absent)} of the {len(ids)} architectures (first: "
                        f"{absent[:3]}); probe them (experiments/probe_values.py) or compare fewer (--ids, --limit)")
    rows = rows.loc[ids]
    scores = rows["value"].to_numpy(float)
    failures = [f if isinstance(f, str) and f else (None if np.isfinite(v) else "not finite")
                for f, v in zip(rows["failure"], scores)]
    return scores, failures


__all__ = ["VALUE_COLUMNS", "check_provenance", "provenance", "read_values", "values_of"]
