"""Many proxies side by side on one benchmark: a table (CSV and Markdown) under the same metrics."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from .featurize import featurize
from .metrics import rank_quality
from .proxies import PROXIES, get_proxy
from .registry import Benchmark
from .score import proxy_scores

COLUMNS = ["proxy", "spearman", "kendall", "kendall_iso_params", "top10_precision", "seconds_per_arch", "needs_data",
           "needs_gradients", "n", "note"]


def compare(benchmark: Benchmark, proxies: list[str] | None = None, builder: str | None = None, seed: int = 0,
            n_jobs: int = 1, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per proxy; seconds per architecture include the featurization a proxy needs."""
    builder = builder or benchmark.spec.builders[0]
    names = list(proxies or PROXIES)
    for name in names:
        get_proxy(name)  # unknown names fail before any work, with suggestions
    table = featurize(benchmark, builder, seed, n_jobs) if table is None else table
    feature_seconds = table.attrs.get("featurize_seconds", float("nan")) / len(table)
    rows = []
    for name in names:
        proxy = get_proxy(name)
        start = time.perf_counter()
        _, scores, info = proxy_scores(benchmark, table, name, None, builder, seed)
        seconds = (time.perf_counter() - start) / len(table) + (feature_seconds if proxy.uses_features else 0.0)
        quality = rank_quality(scores, table["target"], table["n_params"])
        note = quality.reason or ("alpha=" + format(info["alpha"], "g") if "alpha" in info else "")
        rows.append({"proxy": name, "spearman": quality.spearman, "kendall": quality.kendall,
                     "kendall_iso_params": quality.kendall_iso_params, "top10_precision": quality.top10_precision,
                     "seconds_per_arch": seconds, "needs_data": proxy.needs_data,
                     "needs_gradients": proxy.needs_gradients, "n": quality.n, "note": note})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("kendall", ascending=False, na_position="last",
                                                           ignore_index=True)


def write_report(report: pd.DataFrame, out_dir: str | Path, meta: dict) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv, markdown = out / "compare.csv", out / "compare.md"
    report.to_csv(csv, index=False)
    header = (f"# {meta['benchmark']} ({meta['builder']} builder, seed {meta['seed']}, {meta['n']} architectures)\n\n"
              "Signed correlations with the target (higher is better); `kendall_iso_params` compares only "
              "architectures within 10% of each other's parameter count.\n\n")
    markdown.write_text(header + report.to_markdown(index=False, floatfmt=".3f") + "\n")
    (out / "compare.json").write_text(json.dumps(meta, indent=2) + "\n")
    return [csv, markdown]
