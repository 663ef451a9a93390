"""On-disk cache of feature tables, keyed by everything that determines their values.

A cache file is trusted only if it reads, has the expected columns and holds exactly the benchmark's architectures in
order; anything else (another version, a file cut short, a foreign file) is reported and recomputed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs

log = logging.getLogger(__name__)
ENV_CACHE = "ZC_DISCOVER_CACHE"


def cache_dir() -> Path:
    root = os.environ.get(ENV_CACHE)
    return Path(root).expanduser() if root else Path(platformdirs.user_cache_dir("zc-discover")) / "features"


def cache_path(kind: str, benchmark_name: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in benchmark_name)[-60:]
    return cache_dir() / f"{kind}-{safe}-{digest}.parquet"


def read_table(path: Path, arch_ids: list[str], columns: list[str]) -> pd.DataFrame | None:
    """The cached table, or None (with a log line saying why) when it is absent or cannot be trusted."""
    if not path.is_file():
        return None
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "recompute"
        log.warning("cache %s is unreadable (%s); recomputing", path, str(exc).splitlines()[0] if str(exc) else exc)
        return None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        log.warning("cache %s lacks columns %s; recomputing", path, ", ".join(missing[:5]))
        return None
    if table["arch_id"].astype(str).tolist() != arch_ids:
        log.warning("cache %s does not hold this benchmark's architectures; recomputing", path)
        return None
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``.parquet`` or ``.csv`` atomically: a temporary file renamed into place."""
    path = Path(path)
    if path.suffix not in {".parquet", ".csv"}:
        raise ValueError(f"output {path} must end in .parquet or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
