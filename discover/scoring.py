"""Score one proxy - registered by name, a formula, or a discovered one (``run:RUN_DIR``) - on a feature table."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .benchmarks import Benchmark
from .errors import DataError
from .features import formula_features
from .formula import Formula
from .metrics import table_quality
from .proxies import ProxyContext, proxy_values
from .runs import load_run


def read_ids(path: str | Path) -> list[str]:
    """Architecture ids, one per line (blank lines and # comments ignored)."""
    from .files import read_text   # a regular file of bounded size: a FIFO or /dev/zero is refused, not read
    lines = read_text(path, "ids file", limit=64 * 2**20).splitlines()
    ids = [line.split("#")[0].strip() for line in lines]
    ids = [i for i in ids if i]
    if not ids:
        raise DataError(f"ids file {path} lists no architecture id (one per line)")
    return ids


def select_ids(table: pd.DataFrame, ids: list[str] | None, benchmark_name: str) -> pd.DataFrame:
    """The rows of ``table`` for ``ids``, in that order (all rows when ``ids`` is None)."""
    if ids is None:
        return table
    known = set(table["arch_id"].astype(str))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise DataError(f"{len(unknown)} id(s) are not architectures of {benchmark_name}: "
                        f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    if len(set(ids)) != len(ids):
        raise DataError("the ids list names an architecture more than once")
    index = pd.Index(table["arch_id"].astype(str))
    out = table.iloc[index.get_indexer(ids)].reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def proxy_scores(benchmark: Benchmark, table: pd.DataFrame, proxy: str | None = None, formula: str | None = None,
                 builder: str | None = None, seed: int = 0, options: dict | None = None
                 ) -> tuple[str, np.ndarray, dict[str, Any]]:
    """(name, scores, info) of a registered proxy, ``run:RUN_DIR`` or a formula over the table's columns."""
    if (proxy is None) == (formula is None):
        raise ValueError("give exactly one of proxy or formula")
    if formula is not None:
        parsed = formula if isinstance(formula, Formula) else Formula.from_string(formula,
                                                                                  formula_features(table.columns))
        values, reason = parsed.evaluate_with_reason(table)
        info = {"formula": str(parsed), "latex": parsed.latex()}
        if reason:
            info["reason"] = reason
        return str(parsed), values, info
    if proxy.startswith("run:"):  # a discovered proxy, by its run folder
        run = load_run(proxy[4:])
        return proxy, run.formula.evaluate(table), {"formula": str(run.formula)}
    ctx = ProxyContext(benchmark, table, benchmark.family.builder(builder), seed, options or {})
    result = proxy_values(ctx, proxy)
    return proxy, np.asarray(result.scores, dtype=float), result.info


def score_table(benchmark: Benchmark, table: pd.DataFrame, proxy: str | None = None, formula: str | None = None,
                builder: str | None = None, seed: int = 0, options: dict | None = None) -> dict[str, Any]:
    """Rank quality of one proxy on the rows of ``table``, as a plain dict (``score --json``'s object)."""
    builder = benchmark.family.builder(builder)
    start = time.perf_counter()
    name, scores, info = proxy_scores(benchmark, table, proxy, formula, builder, seed, options)
    elapsed = time.perf_counter() - start
    quality = table_quality(scores, table)
    out = {"benchmark": benchmark.name, "proxy": name, "builder": builder, "seed": seed, **quality.as_dict(),
           "seconds_from_table": elapsed, "info": {k: v for k, v in info.items() if k != "errors"}}
    if info.get("reason") and not out["reason"]:
        out["reason"] = info["reason"]
    return out
