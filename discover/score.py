"""Score one proxy (registered by name, or a formula) on a benchmark: its rank quality, as a plain dict."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .featurize import featurize
from .formula import Formula
from .metrics import rank_quality
from .proxies import ProxyContext, get_proxy
from .registry import Benchmark


def read_ids(path: str | Path) -> list[str]:
    """Architecture ids, one per line (blank lines and # comments ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read ids file {path}: {exc.strerror}") from None
    ids = [line.split("#")[0].strip() for line in lines]
    return [i for i in ids if i]


def select_ids(table: pd.DataFrame, ids: list[str] | None, benchmark_name: str) -> pd.DataFrame:
    if ids is None:
        return table
    known = set(table["arch_id"].astype(str))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise DataError(f"{len(unknown)} id(s) are not architectures of {benchmark_name}: "
                        f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    if len(set(ids)) != len(ids):
        raise DataError("the ids file lists an architecture more than once")
    index = pd.Index(table["arch_id"].astype(str))
    return table.iloc[index.get_indexer(ids)].reset_index(drop=True)


NOT_FEATURES = ("arch_id", "target")


def formula_features(table: pd.DataFrame) -> list[str]:
    """Columns a formula may use: every measured feature, never the id or the target it is judged against."""
    return [c for c in table.columns if c not in NOT_FEATURES]


def proxy_scores(benchmark: Benchmark, table: pd.DataFrame, proxy: str | None = None, formula: str | None = None,
                 builder: str | None = None, seed: int = 0, options: dict | None = None
                 ) -> tuple[str, np.ndarray, dict[str, Any]]:
    """(name, scores, info) for a registered proxy or a formula over the table's columns."""
    if (proxy is None) == (formula is None):
        raise ValueError("give exactly one of proxy or formula")
    if formula is not None:
        parsed = Formula.from_string(formula, formula_features(table))
        return str(parsed), parsed.evaluate(table), {"formula": str(parsed), "latex": parsed.latex()}
    if proxy.startswith("run:"):  # a discovered proxy, by its run folder
        from .discovery import load_run
        run = load_run(proxy[4:])
        return proxy, run.formula.evaluate(table), {"formula": str(run.formula)}
    ctx = ProxyContext(benchmark, table, builder or benchmark.spec.builders[0], seed, options or {})
    result = get_proxy(proxy).function(ctx)
    return proxy, np.asarray(result.scores, dtype=float), result.info


def score(benchmark: Benchmark, proxy: str | None = None, formula: str | None = None, ids: list[str] | None = None,
          builder: str | None = None, seed: int = 0, n_jobs: int = 1, options: dict | None = None,
          table: pd.DataFrame | None = None) -> dict[str, Any]:
    """Rank quality of one proxy on ``benchmark`` (or on the architectures ``ids``)."""
    builder = builder or benchmark.spec.builders[0]
    table = featurize(benchmark, builder, seed, n_jobs) if table is None else table
    table = select_ids(table, ids, benchmark.name)
    start = time.perf_counter()
    name, scores, info = proxy_scores(benchmark, table, proxy, formula, builder, seed, options)
    elapsed = time.perf_counter() - start
    quality = rank_quality(scores, table["target"], table["n_params"])
    return {"benchmark": benchmark.name, "proxy": name, "builder": builder, "seed": seed, **quality.as_dict(),
            "seconds_from_table": elapsed, "info": info}
