"""Per-architecture values files: the long format (``arch_id, proxy, value, failure, seconds``) with a JSON of
provenance beside it, written by ``compare -o`` (``values.csv`` + ``compare.json``), ``experiments/probe_all.py``
(``data/values/<benchmark>-<builder>.csv.gz`` + ``.json``) and ``zc-discover probe``, and read back with
checks.

Reading them back lets a comparison, a score or a search use values probed elsewhere (a GPU, a cluster, the values
stored in the repository) instead of probing again, and lets any number in a report be rechecked. A file is plain CSV
(gzip-compressed where its name ends in ``.gz``; nothing in it runs). Its JSON says what it was computed on - the
benchmark (and its digest), builder, initialisation seed, probe settings and every proxy's version - and a file whose
JSON is missing or differs from the request is refused with one line saying what differs, never mixed in silently.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .errors import DataError

VALUE_COLUMNS = ["arch_id", "proxy", "value", "failure", "seconds"]
ENV_VALUES = "ZC_DISCOVER_VALUES"
# what must agree between a values file and the request for its values to be used (in this order of reporting)
PROVENANCE_KEYS = ("benchmark", "builder", "seed", "probe")


def values_dir() -> Path:
    """``$ZC_DISCOVER_VALUES``, else ``data/values`` of the source checkout (absent from an installed wheel)."""
    root = os.environ.get(ENV_VALUES)
    return Path(root).expanduser() if root else Path(__file__).resolve().parents[1] / "data" / "values"


def provenance_path(path: str | Path) -> Path:
    """The JSON that describes a values file: ``NAME.json`` beside ``NAME.csv`` or ``NAME.csv.gz``."""
    path = Path(path)
    stem = path.name
    for suffix in (".gz", ".csv"):
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    return path.with_name(stem + ".json")


def _provenance_schema():
    from pydantic import BaseModel, ConfigDict

    class Provenance(BaseModel):
        """What a values file's JSON must say, typed; anything else it records is kept as it is."""
        model_config = ConfigDict(extra="allow", strict=True)
        benchmark: str | None = None
        builder: str | None = None
        seed: int | None = None
        probe: dict[str, Any] | None = None
        versions: dict[str, int] | None = None
        content_sha256: str | None = None
    return Provenance


def provenance(path: str | Path) -> dict:
    """The JSON written beside a values file (``NAME.json``, or ``compare.json`` for compare -o's ``values.csv``).

    Raises
    ------
    DataError
        When there is none (a values file without its provenance cannot be told apart from another benchmark's,
        builder's or probe's) or it is not a JSON object.
    """
    from .files import read_json   # the one reader of files from elsewhere
    path = Path(path)
    candidates = [provenance_path(path)] + ([path.parent / "compare.json"] if path.name == "values.csv" else [])
    for meta in candidates:
        if meta.exists() or meta.is_symlink():
            return read_json(meta, "values provenance", _provenance_schema()).model_dump(exclude_unset=True)
    raise DataError(f"{path}: no provenance beside it ({candidates[0].name}); a values file is read only with the "
                    "JSON that says what it was computed on - write both with `zc-discover compare -o` or "
                    "experiments/probe_all.py")


def long_values(table: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    """A wide table (``arch_id``, each name's value, ``NAME:error``, ``NAME:seconds``) in the long format."""
    names = list(names)
    frames = []
    for name in names:
        error = table[f"{name}:error"] if f"{name}:error" in table else pd.Series([None] * len(table))
        seconds = table[f"{name}:seconds"] if f"{name}:seconds" in table else pd.Series([math.nan] * len(table))
        frames.append(pd.DataFrame({"arch_id": table["arch_id"].astype(str).to_numpy(), "proxy": name,
                                    "value": table[name].astype(float).to_numpy(),
                                    "failure": [e if isinstance(e, str) and e else None for e in error],
                                    "seconds": seconds.astype(float).to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[VALUE_COLUMNS]


MAX_VALUES_BYTES = 64 * 2**20       # a values file on disk (compressed or not) ...
MAX_EXPANDED_BYTES = 512 * 2**20    # ... and as CSV text: every shipped space's values are far below both


def content_digest(text: bytes) -> str:
    """sha256 of a values file's CSV text (decompressed): its provenance records it, so that the JSON describes this
    CSV and no other (a file renamed beside another's JSON, replaced or cut short is refused)."""
    import hashlib
    return hashlib.sha256(text).hexdigest()


def write_values(values: pd.DataFrame, path: str | Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write a long values table (gzip where ``path`` ends in ``.gz``) and its provenance JSON, each atomically; the
    JSON records the CSV text's digest (``content_sha256``).

    Floats are written with 17 significant digits, so that reading them back gives the same bits."""
    from .files import write_json, write_text
    path = Path(path)
    text = values[[c for c in VALUE_COLUMNS if c in values.columns]].to_csv(index=False, float_format="%.17g",
                                                                            lineterminator="\n").encode()
    if path.name.endswith(".gz"):
        import gzip
        # mtime 0: the same values give the same bytes, so a regenerated file shows no spurious change
        write_text(path, gzip.compress(text, compresslevel=9, mtime=0))
    else:
        write_text(path, text)
    meta_path = provenance_path(path)
    write_json(meta_path, {**meta, "content_sha256": content_digest(text)})
    return path, meta_path


def _read_one(path: Path, meta: dict | None = None) -> pd.DataFrame:
    import io

    from .files import read_bytes, read_gzip
    data = read_gzip(path, "values file", MAX_VALUES_BYTES, MAX_EXPANDED_BYTES) if path.name.endswith(".gz") else \
        read_bytes(path, "values file", MAX_EXPANDED_BYTES)
    if data and not data.endswith(b"\n"):
        raise DataError(f"{path}: its last row is cut short (no line end); the file was truncated - write it again")
    expected = (meta or {}).get("content_sha256")
    if meta is not None and expected is None:
        raise DataError(f"{path}: its provenance ({provenance_path(path).name}) records no digest of the values, so "
                        "nothing ties it to this file (written by an older version); write both again")
    if expected is not None and content_digest(data) != expected:
        raise DataError(f"{path}: its content does not match the digest its provenance ({provenance_path(path).name}) "
                        "records - the file was replaced, edited or cut, or the JSON is another file's; write both "
                        "again")
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={"arch_id": str, "proxy": str, "failure": str},
                            keep_default_na=False,
                            na_values={"value": ["", "nan", "NaN"], "seconds": ["", "nan", "NaN"],
                                       "failure": [""]})
    except (OSError, ValueError, EOFError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: not a readable values file ({str(error).splitlines()[0]}); write it with "
                        "`zc-discover compare -o` or experiments/probe_all.py") from None
    missing = [c for c in ("arch_id", "proxy", "value") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: a values file needs the columns arch_id, proxy, value (failure, seconds "
                        f"optional); {missing} missing (columns found: {list(frame.columns)[:8]})")
    for column in ("value", "seconds"):
        if column not in frame.columns:
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & numbers.isna()
        if bad.any():
            raise DataError(f"{path}: {column} {frame.loc[bad, column].iloc[0]!r} of {frame.loc[bad, 'proxy'].iloc[0]} "
                            f"on {frame.loc[bad, 'arch_id'].iloc[0]} is not a number; fix or re-write the file")
        frame[column] = numbers.astype(float)
    if "failure" not in frame.columns:
        frame["failure"] = None
    return frame


def read_values(paths: list[str | Path], expected: dict[str, Any] | None = None,
                versions: dict[str, int] | None = None) -> pd.DataFrame:
    """Long values from one or more files, each checked against its provenance.

    Parameters
    ----------
    paths : list of str or Path
        Values files (CSV, or gzip-compressed CSV).
    expected : dict, optional
        What the values must have been computed on: any of ``benchmark``, ``builder``, ``seed``, ``probe`` (a probe
        settings description, ``ProbeSettings.describe()``). A file whose JSON differs is refused.
    versions : dict, optional
        Current version of each proxy (or feature group) by name: a value computed by another version is refused.

    Returns
    -------
    pandas.DataFrame
        ``arch_id, proxy, value, failure`` (plus ``seconds`` where every file has it); one row per (id, proxy).

    Raises
    ------
    DataError
        A missing or unreadable file or provenance, a missing column, a value that is neither a number nor empty,
        the same (id, proxy) twice with different values, or a file computed on something other than requested.
    """
    from .files import check_regular
    frames = []
    for path in map(Path, paths):
        check_regular(path, "values file")
        meta = provenance(path)
        frame = _read_one(path, meta)
        check_provenance(path, meta, expected or {}, versions, set(frame["proxy"].unique()))
        frames.append(frame)
    if not frames:
        raise DataError("no values files given")
    values = pd.concat(frames, ignore_index=True)
    values = values[[c for c in VALUE_COLUMNS if c in values.columns]]
    clashing = values.groupby(["arch_id", "proxy"])["value"].nunique(dropna=False) > 1
    if clashing.any():
        arch_id, proxy = clashing[clashing].index[0]
        raise DataError(f"the values files give {proxy} on {arch_id} two different values; give one file per "
                        "probe setting")
    return values.drop_duplicates(["arch_id", "proxy"], ignore_index=True)


def provenance_difference(meta: dict, expected: dict[str, Any], versions: dict[str, int] | None = None,
                          names: Iterable[str] = ()) -> str | None:
    """What differs between a values file's provenance and the request, in words; None when nothing does."""
    for key in PROVENANCE_KEYS:
        if key in expected and expected[key] is not None:
            if key not in meta:
                return f"it does not record its {key} (written by an older version)"
            if meta[key] != expected[key]:
                return f"it was computed with {key} {meta[key]!r}, not {expected[key]!r}"
    if versions:
        stored = meta.get("versions")
        if not isinstance(stored, dict):
            return "it does not record the proxies' versions (written by an older version)"
        for name in sorted(names):
            if name in versions and stored.get(name) != versions[name]:
                return (f"its {name} was computed by version {stored.get(name)!r} of that definition, and the current "
                        f"one is {versions[name]}")
    return None


def check_provenance(path: str | Path, meta: dict, expected: dict[str, Any], versions: dict[str, int] | None = None,
                     names: Iterable[str] = ()) -> None:
    """Refuse a values file whose provenance differs from the request (one line: the file and what differs)."""
    why = provenance_difference(meta, expected, versions, names)
    if why is not None:
        raise DataError(f"{path}: {why}; probe again (experiments/probe_all.py, `zc-discover compare -o`) or "
                        "give values computed with the requested settings")


def values_of(values: pd.DataFrame, proxy: str, ids: list[str]) -> tuple[np.ndarray, list[str | None]]:
    """(scores on ``ids`` in that order, failure reasons) of one proxy; every id must be there."""
    rows = values[values["proxy"] == proxy].set_index("arch_id")
    absent = [i for i in ids if i not in rows.index]
    if absent:
        raise DataError(f"the values files have no {proxy} for {len(absent)} of the {len(ids)} architectures (first: "
                        f"{absent[:3]}); probe them (experiments/probe_all.py) or compare fewer (--ids, --limit)")
    rows = rows.loc[ids]
    scores = rows["value"].to_numpy(float)
    failures = [f if isinstance(f, str) and f else (None if np.isfinite(v) else "not finite")
                for f, v in zip(rows["failure"], scores)]
    return scores, failures


__all__ = ["ENV_VALUES", "PROVENANCE_KEYS", "VALUE_COLUMNS", "check_provenance", "long_values", "provenance", "provenance_difference",
           "provenance_path", "read_values", "values_dir", "values_of", "write_values"]
