"""Many proxies side by side on one benchmark: a table (CSV and Markdown) under the same metrics, the values behind
it (``values.csv``), and figures."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .benchmarks import Benchmark
from .features import featurize, structure_table
from .metrics import table_quality
from .probing.activations import activation_feature_names
from .proxies import PROXIES, data_proxy_table, get_proxy
from .proxies.probe_table import activation_table
from .scoring import proxy_scores, select_ids
from .files import check_own_file, write_text
from .values import content_digest, values_of

# The report's columns, in the order a reader wants them; the metric names are score's and search's. The deprecated
# kendall_iso_params (pairs of similar *total* size: on the LTS spaces, similar embeddings) is kept last, for one
# release, and left out of the printed table (``SHOWN``).
COLUMNS = ["proxy", "kendall", "kendall_size_matched", "spearman", "partial_spearman", "top10_precision",
           "seconds_per_arch", "needs", "needs_data", "n", "failed", "note", "kendall_iso_params"]
SHOWN = ["proxy", "kendall", "kendall_size_matched", "spearman", "partial_spearman", "top10_precision",
         "seconds_per_arch", "needs", "n", "failed", "note", "heldout_kendall", "heldout_kendall_std"]


def shown(report: pd.DataFrame) -> pd.DataFrame:
    """The columns of a report a reader needs (``SHOWN``), held-out ones only where a run gave them."""
    keep = [c for c in SHOWN if c in report.columns and not (c.startswith("heldout") and report[c].isna().all())]
    return report[keep]


def compare(benchmark: Benchmark, proxies: list[str] | None = None, builder: str | None = None, seed: int = 0,
            n_jobs: int = 1, table: pd.DataFrame | None = None, options: dict | None = None,
            runs: list | None = None, ids: list[str] | None = None, values: pd.DataFrame | None = None
            ) -> pd.DataFrame:
    """Many proxies on the same architectures under the same metrics.

    Parameters
    ----------
    benchmark : Benchmark
    proxies : list of str, optional
        Registered proxy names or ``run:RUN_DIR`` (default: every registered proxy).
    builder, seed : reading and initialisation of the models.
    n_jobs : int
        Parallel workers for featurizing and probing.
    table : DataFrame, optional
        The feature table, if already computed.
    options : dict, optional
        Reach the proxies: ``settings`` (a ``ProbeSettings``: probe batch, tokens, gradient source) or its
        shorthands ``batch`` / ``seq``, ``retry_failed``, ``device``, ``alpha``.
    runs : list of Run, optional
        Loaded run folders whose formulas join the comparison.
    ids : list of str, optional
        Only these architectures (default: all); data-dependent proxies probe only these.
    values : DataFrame, optional
        Per-architecture values computed before (``values.read_values``: a probe on another machine, an earlier
        report): the data-dependent proxies it holds are read from it, on every compared architecture, instead of
        probed.

    Returns
    -------
    pandas.DataFrame
        One row per proxy (Spearman, Kendall, iso-params Kendall, top-10% precision, seconds per architecture,
        failures). ``attrs`` carries each proxy's scores, the target, the architecture ids and per-architecture
        failure reasons (``write_report`` writes them to ``values.csv``).
    """
    builder = benchmark.family.builder(builder)
    names = list(proxies or PROXIES)
    for name in names:
        if not name.startswith("run:"):
            get_proxy(name)  # unknown names fail before any work, with suggestions
    if table is None:
        counts_only = all(not n.startswith("run:") and get_proxy(n).counts_only for n in names) and not runs
        # the size baselines alone need only the models' shapes (seconds), not the weight features (minutes)
        table = structure_table(benchmark, builder, seed, n_jobs) if counts_only else \
            featurize(benchmark, builder, seed, n_jobs)
    # the featurizing time covers every architecture of the table, not only those compared; the counts (the size
    # baselines) cost only the models' shapes, its first step
    feature_seconds = table.attrs.get("featurize_seconds", float("nan")) / len(table)
    count_seconds = table.attrs.get("structure_seconds", float("nan")) / len(table)
    # a table featurized with its activation features carries what their probe pass cost
    activation_seconds = table.attrs.get("probe_seconds_per_arch") or float("nan")
    table = select_ids(table, ids, benchmark.name)
    ids = table["arch_id"].astype(str).tolist()
    lacking = {f for run in runs or [] for f in run.formula.features} - set(table.columns)
    if lacking & set(activation_feature_names()):   # a discovered formula over data features: read or probe them
        options = options or {}
        extra = activation_table(benchmark, builder, seed, n_jobs=n_jobs, device=options.get("device", "cpu"),
                                 ids=ids, settings=options.get("settings"))
        table = table.merge(extra, on="arch_id", how="left", validate="one_to_one")
        activation_seconds = extra.attrs.get("probe_seconds_per_arch", float("nan"))
    # data-dependent proxies the values hold are read from them; the weight-only ones are cheap and computed as usual
    data = [n for n in names if not n.startswith("run:") and get_proxy(n).needs_probe]
    given = set(data) & set(values["proxy"]) if values is not None else set()
    probed = [n for n in data if n not in given]
    if probed:
        # One probe of each architecture serves every data-dependent proxy asked for; each proxy then reads its
        # scores from the cache instead of probing all the models again.
        options = options or {}
        data_proxy_table(benchmark, probed, builder, seed, options.get("batch"), options.get("seq"), n_jobs,
                         retry_failed=options.get("retry_failed", False), ids=ids,
                         device=options.get("device", "cpu"), settings=options.get("settings"))
        options = {**options, "retry_failed": False}   # retried above, once
    all_errors: dict[str, list] = {}
    rows, all_scores = [], {}
    for name in names:
        proxy = get_proxy(name) if not name.startswith("run:") else None
        start = time.perf_counter()
        if name in given:
            scores, errors = values_of(values, name, ids)
            info = {"errors": errors, "failed": sum(e is not None for e in errors),
                    "first_error": next((e for e in errors if e), None)}
            if "seconds" in values.columns:   # measured where the values were computed, on the compared ones
                own = values[(values["proxy"] == name) & values["arch_id"].isin(ids)]
                info["seconds_per_arch"] = float(own["seconds"].mean())
        else:
            _, scores, info = proxy_scores(benchmark, table, name, None, builder, seed, {"n_jobs": n_jobs,
                                                                                        **(options or {})})
        uses_features = proxy is None or proxy.uses_features
        table_cost = count_seconds if proxy is not None and proxy.counts_only else \
            feature_seconds if uses_features else 0.0
        seconds = (time.perf_counter() - start) / len(table) + table_cost
        if "seconds_per_arch" in info:  # measured when the proxy was computed (it may come from the cache now)
            seconds = info["seconds_per_arch"]
        all_scores[name] = scores
        all_errors[name] = info.get("errors") or [None] * len(scores)
        failed = int(info.get("failed", 0))
        # A proxy undefined on some architectures (e.g. attention statistics of a model without attention) is
        # ranked on the others; the failures are counted in the report, never silently dropped.
        row, quality = _quality_row(name, scores, table, only_finite=failed > 0)
        note = quality.reason or info.get("note") or ("alpha=" + format(info["alpha"], "g") if "alpha" in info else "")
        rows.append({**row, "seconds_per_arch": seconds, "needs_data": bool(proxy and proxy.needs_probe),
                     "needs": "+".join(proxy.needs) if proxy else "weights", "failed": failed,
                     "note": note if not failed else
                     f"ranked on the {quality.n} it is defined on; first failure: {info.get('first_error', '?')}"})
    for run in runs or []:  # discovered proxies, scored unchanged on this benchmark
        name = f"discovered:{run.path.name}"
        all_scores[name], reason = run.formula.evaluate_with_reason(table)
        all_errors[name] = [None if np.isfinite(v) else reason for v in all_scores[name]]
        row, _ = _quality_row(name, all_scores[name], table)
        held = run.metrics.get("heldout", {}).get(benchmark.name, {})
        note = f"{run.formula}" + (f"; held-out Kendall {held['kendall']:.3f}" if held.get("kendall") else "")
        # a formula over data features pays for the probe pass that computes them as well
        reads_data = bool(set(run.formula.features) & set(activation_feature_names()))
        seconds = feature_seconds + (activation_seconds if reads_data else 0.0)
        rows.append({**row, "seconds_per_arch": seconds, "needs_data": reads_data,
                     "needs": "weights+probe+gradients" if reads_data else "weights",
                     "failed": 0, "note": note, "heldout_kendall": held.get("kendall"),
                     "heldout_kendall_std": held.get("kendall_std")})
    report = pd.DataFrame(rows, columns=COLUMNS + (["heldout_kendall", "heldout_kendall_std"] if runs else []))
    report = report.sort_values("kendall", ascending=False, na_position="last", ignore_index=True)
    report.attrs["scores"] = {k: np.asarray(v, dtype=float).tolist() for k, v in all_scores.items()}
    report.attrs["target"] = table["target"].astype(float).tolist()
    report.attrs["arch_ids"] = ids
    report.attrs["errors"] = all_errors
    return report


def compare_provenance(benchmark: Benchmark, builder: str | None, seed: int, settings, device: str,
                       report: pd.DataFrame, runs: list | None = None) -> dict:
    """What ``compare.json`` records beside a report's ``values.csv``: what its values were computed on, so that
    ``compare --values`` reads them back only for the same request (``values.read_values``)."""
    compared = [name for name in report.attrs["scores"] if name in PROXIES]
    return {"benchmark": benchmark.name, "builder": benchmark.family.builder(builder), "seed": int(seed),
            "n": len(report.attrs["arch_ids"]), "runs": [str(r.path) for r in runs or []],
            "probe": settings.describe(), "device": device,
            "versions": {name: PROXIES[name].version for name in compared}}


def values_table(report: pd.DataFrame) -> pd.DataFrame:
    """The per-architecture values behind a report: ``arch_id``, ``proxy``, ``value``, ``failure`` (long format),
    so that any number in it can be rechecked."""
    ids = report.attrs["arch_ids"]
    rows = []
    for name, scores in report.attrs["scores"].items():
        errors = report.attrs.get("errors", {}).get(name) or [None] * len(scores)
        for arch_id, value, error in zip(ids, scores, errors):
            finite = value is not None and np.isfinite(value)
            rows.append({"arch_id": arch_id, "proxy": name, "value": value if finite else np.nan,
                         "failure": error if error else (None if finite else "not finite")})
    return pd.DataFrame(rows, columns=["arch_id", "proxy", "value", "failure"])


def _quality_row(name: str, scores: np.ndarray, table: pd.DataFrame, only_finite: bool = False):
    """(the metric columns of one report row, the RankQuality behind them); ``only_finite`` ranks only the
    architectures the proxy is defined on."""
    keep = np.isfinite(scores) if only_finite else np.ones(len(scores), dtype=bool)
    quality = table_quality(scores[keep], table[keep])
    return {"proxy": name, "spearman": quality.spearman, "kendall": quality.kendall,
            "kendall_size_matched": quality.kendall_size_matched, "partial_spearman": quality.partial_spearman,
            "kendall_iso_params": quality.kendall_iso_params, "top10_precision": quality.top10_precision,
            "n": quality.n}, quality


def write_report(report: pd.DataFrame, out_dir: str | Path, meta: dict, plots: bool = True) -> list[Path]:
    """compare.csv, compare.md, compare.json, values.csv and (with matplotlib) scatter.png and kendall.png."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        from .errors import ZcDiscoverError
        raise ZcDiscoverError(f"-o {out} is a file; give a folder for the report.")
    out.mkdir(parents=True, exist_ok=True)
    csv, markdown = out / "compare.csv", out / "compare.md"
    for name in ("compare.csv", "compare.md", "compare.json", "values.csv", "scatter.png", "kendall.png"):
        check_own_file(out / name)   # before anything is written: a link or a hard-linked file is refused
    values = values_table(report).to_csv(index=False, lineterminator="\n").encode()
    write_text(csv, report.to_csv(index=False), root=out)
    write_text(out / "values.csv", values, root=out)
    header = (f"# {meta['benchmark']} ({meta['builder']} builder, seed {meta['seed']}, {meta['n']} architectures)\n\n"
              "Signed correlations with the target (higher is better); `kendall_size_matched` compares only "
              "architectures within 10% of each other's non-embedding parameter count; `seconds_per_arch` is what "
              "the proxy costs per architecture, what it reads included.\n\n")
    write_text(markdown, header + shown(report).to_markdown(index=False, floatfmt=".3f") + "\n", root=out)
    write_text(out / "compare.json", json.dumps({**meta, "content_sha256": content_digest(values)}, indent=2) + "\n",
               root=out)
    written = [csv, markdown, out / "values.csv"]
    if plots:
        from .plots import kendall_bars, scatter_grid
        written += [scatter_grid(report, out / "scatter.png", meta), kendall_bars(report, out / "kendall.png", meta)]
    return written
