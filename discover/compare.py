"""Many proxies side by side on one benchmark: a table (CSV and Markdown) under the same metrics."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .featurize import featurize
from .metrics import rank_quality
from .proxies import PROXIES, get_proxy
from .registry import Benchmark
from .score import proxy_scores

COLUMNS = ["proxy", "spearman", "kendall", "kendall_iso_params", "top10_precision", "seconds_per_arch", "needs_data",
           "needs_gradients", "n", "failed", "note"]


def compare(benchmark: Benchmark, proxies: list[str] | None = None, builder: str | None = None, seed: int = 0,
            n_jobs: int = 1, table: pd.DataFrame | None = None, options: dict | None = None,
            runs: list | None = None) -> pd.DataFrame:
    """One row per proxy; seconds per architecture include the featurization a proxy needs. ``options`` reach the
    proxies (e.g. ``batch`` and ``seq`` of the probe batch for data-dependent ones); ``runs`` (loaded run folders)
    add their discovered formulas. The scores of each proxy travel in ``report.attrs['scores']`` for the plots."""
    builder = builder or benchmark.spec.builders[0]
    names = list(proxies or PROXIES)
    for name in names:
        if not name.startswith("run:"):
            get_proxy(name)  # unknown names fail before any work, with suggestions
    table = featurize(benchmark, builder, seed, n_jobs) if table is None else table
    feature_seconds = table.attrs.get("featurize_seconds", float("nan")) / len(table)
    rows, all_scores = [], {}
    for name in names:
        proxy = get_proxy(name) if not name.startswith("run:") else None
        start = time.perf_counter()
        _, scores, info = proxy_scores(benchmark, table, name, None, builder, seed, {"n_jobs": n_jobs,
                                                                                    **(options or {})})
        uses_features = proxy is None or proxy.uses_features
        seconds = (time.perf_counter() - start) / len(table) + (feature_seconds if uses_features else 0.0)
        if "seconds_per_arch" in info:  # measured when the proxy was computed (it may come from the cache now)
            seconds = info["seconds_per_arch"]
        all_scores[name] = scores
        failed = int(info.get("failed", 0))
        # A proxy undefined on some architectures (e.g. attention statistics of a model without attention) is
        # ranked on the others; the failures are counted in the report, never silently dropped.
        row, quality = _quality_row(name, scores, table, only_finite=failed > 0)
        note = quality.reason or ("alpha=" + format(info["alpha"], "g") if "alpha" in info else "")
        rows.append({**row, "seconds_per_arch": seconds, "needs_data": bool(proxy and proxy.needs_data),
                     "needs_gradients": bool(proxy and proxy.needs_gradients), "failed": failed,
                     "note": note if not failed else
                     f"ranked on the {quality.n} it is defined on; first failure: {info.get('first_error', '?')}"})
    for run in runs or []:  # discovered proxies, scored unchanged on this benchmark
        name = f"discovered:{run.path.name}"
        all_scores[name] = run.formula.evaluate(table)
        row, _ = _quality_row(name, all_scores[name], table)
        held = run.metrics.get("heldout", {}).get(benchmark.name, {})
        note = f"{run.formula}" + (f"; held-out Kendall {held['kendall']:.3f}" if held.get("kendall") else "")
        rows.append({**row, "seconds_per_arch": feature_seconds, "needs_data": False, "needs_gradients": False,
                     "failed": 0, "note": note, "heldout_kendall": held.get("kendall"),
                     "heldout_kendall_std": held.get("kendall_std")})
    report = pd.DataFrame(rows, columns=COLUMNS + (["heldout_kendall", "heldout_kendall_std"] if runs else []))
    report = report.sort_values("kendall", ascending=False, na_position="last", ignore_index=True)
    report.attrs["scores"] = {k: np.asarray(v, dtype=float).tolist() for k, v in all_scores.items()}
    report.attrs["target"] = table["target"].astype(float).tolist()
    return report


def _quality_row(name: str, scores: np.ndarray, table: pd.DataFrame, only_finite: bool = False):
    """(the metric columns of one report row, the RankQuality behind them); ``only_finite`` ranks only the
    architectures the proxy is defined on."""
    keep = np.isfinite(scores) if only_finite else np.ones(len(scores), dtype=bool)
    quality = rank_quality(scores[keep], table["target"].to_numpy(float)[keep], table["n_params"].to_numpy(float)[keep])
    return {"proxy": name, "spearman": quality.spearman, "kendall": quality.kendall,
            "kendall_iso_params": quality.kendall_iso_params, "top10_precision": quality.top10_precision,
            "n": quality.n}, quality


def write_report(report: pd.DataFrame, out_dir: str | Path, meta: dict, plots: bool = True) -> list[Path]:
    """compare.csv, compare.md, compare.json and (with matplotlib) scatter.png and kendall.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv, markdown = out / "compare.csv", out / "compare.md"
    report.to_csv(csv, index=False)
    header = (f"# {meta['benchmark']} ({meta['builder']} builder, seed {meta['seed']}, {meta['n']} architectures)\n\n"
              "Signed correlations with the target (higher is better); `kendall_iso_params` compares only "
              "architectures within 10% of each other's parameter count.\n\n")
    markdown.write_text(header + report.to_markdown(index=False, floatfmt=".3f") + "\n")
    (out / "compare.json").write_text(json.dumps(meta, indent=2) + "\n")
    written = [csv, markdown]
    if plots:
        from .plots import kendall_bars, scatter_grid
        written += [scatter_grid(report, out / "scatter.png", meta), kendall_bars(report, out / "kendall.png", meta)]
    return written
