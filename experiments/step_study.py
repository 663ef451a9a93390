"""What each second of compute buys: few-step training signals against counts, data probes and a regression on
the config, within each space and across spaces (issue #28).

    python experiments/step_study.py [--seeds 0 1 2 3 4] [--jobs 2] [-o results/steps]

Every space is judged on the architectures whose few-step values are stored (``experiments/step_values.py``: a
seeded subset spread evenly over size, 50-100 per space; all 36 of the tiny-lm example), so every method below sees
the same rows.

- **Within a space** (5 folds drawn by each search seed, the search's own ``fold_rows``): a default search over the
  weight features, over weights and the data features, and over weights and the few-step signals after k steps, for
  each stored k (and, where the stored file holds them, with the details: each role's gradient norm and noise
  through depth and the data probe's statistics of the model after the k steps, ``search --step-details``); against, on the same folds, the size count chosen on each fold's training rows, and the supervised
  references ``config_linear`` and ``config_gbr`` fitted on the training rows. Held-out Kendall per fold, averaged
  over folds and seeds; size-matched Kendall likewise (pairs within 10% non-embedding size).
- **Leave one space out** (BERT, GPT-2, TXL, TXL-homog): one formula searched on the other three spaces' rows (no
  folds), scored unchanged on the left-out space, for weights alone and weights + steps k (k = 1, 4, 16: stored for
  every space), with the details too where every space holds them; against the best count there and a ``config_linear`` / ``config_gbr`` fitted on the other spaces'
  generic config fields (targets as within-space ranks), with the discovered formula's difference from the best
  count and its paired-bootstrap 95% interval.
- **Cost**: seconds per architecture of each method on this machine's cores (weights: featurizing; data: the probe
  pass; steps k: featurizing and k training steps, measured with the default columns alone where the stored file
  kept that timing; steps k + details: with the per-layer and data measurements; counts and config: the models'
  shapes), and a plot of Kendall against it.

Writes docs/tables/steps-within.md (the cost per architecture is its fifth column), steps-lomo.md and
docs/figures/steps-cost.png; the single-column diagnostic is experiments/step_columns.py.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from discover import load_benchmark
from discover.api import search_table
from discover.features import structure_table
from discover.features.config_fields import config_fields
from discover.metrics import fold_rows, paired_difference, rank_quality
from discover.probing.step_values import stored_ids, stored_path
from discover.probing.steps import StepSettings
from discover.proxies.supervised import cross_validated, other_spaces
from discover.proxies.weights import COUNT_PROXIES
from discover.scoring import proxy_scores
from discover.search import search_tables
from discover.search.loop import SearchConfig
from discover.values import provenance
from report import ROOT, write_table

SPACES = {"nas-bench-bert": "BERT", "lts-gpt2-wt103": "GPT-2", "lts-txl-wt103": "TXL",
          "lts-txl-wt103-homogeneous": "TXL-homog", "hf:examples/tiny-lm": "tiny-lm"}
LOSO = ("nas-bench-bert", "lts-gpt2-wt103", "lts-txl-wt103", "lts-txl-wt103-homogeneous")
LOSO_STEPS = (1, 4, 16)
FOLDS = 5


DETAILS = StepSettings(per_layer=True, data_after=True)
DETAILED = " + details"   # the arm's suffix: the gradients through depth and the data statistics after the steps


class Stored(NamedTuple):
    """A space's stored few-step values: step counts, seconds per architecture to each (everything the file
    measured), the same for the default columns alone, whether it holds the details, and its architectures."""
    steps: list[int]
    seconds: dict[str, float]
    default_seconds: dict[str, float]
    details: bool
    ids: list[str]


def stored_steps(bench) -> Stored:
    """What the stored few-step values of ``bench`` hold (its provenance)."""
    path = stored_path(bench.name, bench.family.builder(None))
    meta = provenance(path)
    details = bool(meta["steps"].get("per_layer") and meta["steps"].get("data_after"))
    seconds = meta["seconds_per_arch"]
    return Stored(list(meta["steps"]["steps"]), seconds, meta.get("seconds_per_arch_default", seconds), details,
                  [str(i) for i in meta["ids"]])


def tables_of(bench, steps: list[int], details: bool, jobs: int) -> dict[str, pd.DataFrame]:
    """The table of each arm on the stored subset's rows (in the benchmark's order): weights, data, steps k, and
    steps k with the details where they are stored."""
    ids = stored_ids(bench, bench.family.builder(None), 0, StepSettings(steps=(steps[0],)))
    weights = search_table(bench, None, 0, jobs)
    rows = weights["arch_id"].astype(str).isin(set(ids)).to_numpy()
    out = {"weights": weights[rows].reset_index(drop=True)}
    data = search_table(bench, None, 0, jobs, with_activations=True)
    out["weights + data"] = data[rows].reset_index(drop=True)
    for k in steps:
        for suffix, settings in [("", None)] + ([(DETAILED, DETAILS)] if details else []):
            table = search_table(bench, None, 0, jobs, with_steps=k, step_settings=settings)
            out[f"weights + steps {k}{suffix}"] = table.set_index("arch_id").loc[out["weights"]["arch_id"]] \
                .reset_index()
    for name, table in out.items():
        table.attrs.update(weights.attrs)
        assert table["arch_id"].tolist() == out["weights"]["arch_id"].tolist(), name
    out["weights + data"].attrs["probe_seconds_per_arch"] = data.attrs.get("probe_seconds_per_arch")
    return out


def fold_kendalls(scores: np.ndarray, table: pd.DataFrame, seed: int) -> tuple[list[float], list[float]]:
    """Per fold of ``seed``'s split: Kendall and size-matched Kendall of ``scores`` on the fold's rows."""
    target, size = table["target"].to_numpy(float), table["params_nonembedding"].to_numpy(float)
    kendall, matched = [], []
    for test in fold_rows(len(table), FOLDS, seed):
        kendall.append(float(stats.kendalltau(scores[test], target[test]).statistic))
        matched.append(kendall_size_matched(scores[test], target[test], size[test]))
    return kendall, matched


def counts_on_folds(bench, table: pd.DataFrame, seed: int) -> tuple[list[float], list[float]]:
    """The size count chosen on each fold's training rows, scored on its held-out rows."""
    target = table["target"].to_numpy(float)
    counts = {p: np.asarray(proxy_scores(bench, table, p, None, None, 0, {})[1], float) for p in COUNT_PROXIES}
    size = table["params_nonembedding"].to_numpy(float)
    kendall, matched = [], []
    for test in fold_rows(len(table), FOLDS, seed):
        train = np.setdiff1d(np.arange(len(table)), test)
        best = max(COUNT_PROXIES, key=lambda p: (stats.kendalltau(counts[p][train], target[train]).statistic, p))
        kendall.append(float(stats.kendalltau(counts[best][test], target[test]).statistic))
        matched.append(kendall_size_matched(counts[best][test], target[test], size[test]))
    return kendall, matched


def fields_of(bench, table: pd.DataFrame) -> pd.DataFrame:
    return config_fields(table, {str(i): bench.arch(str(i)).config for i in table["arch_id"]})


def kendall_size_matched(scores, target, size) -> float:
    """Kendall over the pairs within 10% of each other's non-embedding size (NaN where there are none)."""
    return rank_quality(scores, target, size=size).kendall_size_matched


def mean(values) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def within(bench, tables: dict, seeds: list[int], args, out: Path) -> dict[str, dict]:
    """Held-out Kendall / size-matched Kendall of every method within ``bench`` (means over folds and seeds)."""
    results: dict[str, dict] = {}
    base = tables["weights"]
    fields = fields_of(bench, base)
    for seed in seeds:
        for method, get in (("count chosen on the training folds", lambda s: counts_on_folds(bench, base, s)),
                            ("config_linear (supervised)", lambda s: fold_kendalls(
                                cross_validated(fields, base["target"].to_numpy(float), "linear", s), base, s)),
                            ("config_gbr (supervised)", lambda s: fold_kendalls(
                                cross_validated(fields, base["target"].to_numpy(float), "gbr", s), base, s))):
            kendall, matched = get(seed)
            entry = results.setdefault(method, {"kendall": [], "matched": []})
            entry["kendall"] += kendall
            entry["matched"] += matched
        for arm, table in tables.items():
            config = SearchConfig(population=args.population, generations=args.generations, seed=seed)
            run = search_tables({bench.name: table}, out / SPACES[bench.name] / arm.replace(" ", "_") / f"s{seed}",
                                config, folds=FOLDS, n_jobs=args.jobs, force=True, progress=False)
            entry = results.setdefault(f"search: {arm}", {"kendall": [], "matched": [], "formulas": []})
            for k in range(FOLDS):
                held = run.metrics["folds"][f"fold{k}"][bench.name]
                entry["kendall"].append(held.get("kendall"))
                entry["matched"].append(held.get("kendall_size_matched"))
            entry["formulas"].append(str(run.formula))
        print(f"  {SPACES[bench.name]} seed {seed} done", flush=True)
    return results


def cost_per_arch(bench, tables: dict, seconds: dict[str, float], default: dict[str, float]) -> dict[str, float]:
    """Seconds per architecture of each method here (what it reads included): ``seconds`` to reach each step count
    with everything the stored file measured, ``default`` with the default columns alone."""
    weights = tables["weights"].attrs
    featurize = weights.get("featurize_seconds", math.nan) / len(bench)
    shapes = structure_table(bench).attrs.get("structure_seconds", weights.get("structure_seconds", math.nan))
    counts = shapes / len(bench)
    cost = {"count chosen on the training folds": counts, "config_linear (supervised)": counts,
            "config_gbr (supervised)": counts, "search: weights": featurize,
            "search: weights + data": featurize + (tables["weights + data"].attrs.get("probe_seconds_per_arch")
                                                   or math.nan)}
    for k, value in seconds.items():
        cost[f"search: weights + steps {k}"] = featurize + float(default.get(k, value))
        cost[f"search: weights + steps {k}{DETAILED}"] = featurize + float(value)
    return cost


def loso_arms(all_tables: dict) -> list[str]:
    """The arms every left-out space has: weights, and weights + steps k (k <= 16), with the details where stored."""
    arms = ["weights"] + [f"weights + steps {k}{suffix}" for k in LOSO_STEPS for suffix in ("", DETAILED)]
    return [a for a in arms if all(a in all_tables[n] for n in LOSO)]


def loso(benches: dict, all_tables: dict, seeds: list[int], args, out: Path) -> list[dict]:
    """Leave each space out: search on the others, score there; beside the best count and config regressions."""
    rows = []
    for left in LOSO:
        others = [n for n in LOSO if n != left]
        test = all_tables[left]["weights"]
        target = test["target"].to_numpy(float)
        size = test["params_nonembedding"].to_numpy(float)
        counts = {p: np.asarray(proxy_scores(benches[left], test, p, None, None, 0, {})[1], float)
                  for p in COUNT_PROXIES}
        best = max(COUNT_PROXIES, key=lambda p: (stats.kendalltau(counts[p], target).statistic, p))
        row = {"left": left, "best_count": best,
               "count": float(stats.kendalltau(counts[best], target).statistic),
               "count_matched": kendall_size_matched(counts[best], target, size)}
        train = [(fields_of(benches[n], all_tables[n]["weights"]), all_tables[n]["weights"]["target"].to_numpy(float))
                 for n in others]
        test_fields = fields_of(benches[left], test)
        for kind in ("linear", "gbr"):
            predicted = other_spaces(train, test_fields, kind)
            row[f"config_{kind}"] = float(stats.kendalltau(predicted, target).statistic)
            row[f"config_{kind}_matched"] = kendall_size_matched(predicted, target, size)
        for arm in loso_arms(all_tables):
            scores = []
            for seed in seeds:
                config = SearchConfig(population=args.population, generations=args.generations, seed=seed)
                run = search_tables({n: all_tables[n][arm] for n in others},
                                    out / "loso" / SPACES[left] / arm.replace(" ", "_") / f"s{seed}", config, folds=1,
                                    n_jobs=args.jobs, force=True, progress=False)
                scores.append(np.asarray(run.formula.evaluate(all_tables[left][arm]), float))
                row.setdefault(f"{arm}:formulas", []).append(str(run.formula))
            kendalls = [float(stats.kendalltau(s, target).statistic) for s in scores]
            row[arm] = float(np.mean(kendalls))
            row[f"{arm}:matched"] = mean([kendall_size_matched(s, target, size) for s in scores])
            finite = np.all([np.isfinite(s).all() for s in scores])
            row[f"{arm}:vs_count"] = paired_difference(np.vstack(scores), counts[best], target) if finite else None
        rows.append(row)
        print(f"  left out {SPACES[left]} done", flush=True)
    return rows


def figure(costs: dict, within_results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(within_results)
    figure_, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), squeeze=False)
    for axis, name in zip(axes[0], names):
        for method, result in within_results[name].items():
            x, y = costs[name].get(method, math.nan), mean(result["kendall"])
            if math.isfinite(x) and math.isfinite(y):
                axis.scatter([max(x, 1e-3)], [y], s=25,
                             color="tab:orange" if "steps" in method else "tab:green" if "supervised" in method
                             else "tab:blue")
                axis.annotate(method.replace("search: ", "").replace(" (supervised)", ""), (max(x, 1e-3), y),
                              fontsize=6, xytext=(3, 2), textcoords="offset points")
        axis.set_xscale("log")
        axis.set_xlabel("seconds per architecture (log)", fontsize=8)
        axis.set_ylabel("held-out Kendall (5-fold)", fontsize=8)
        axis.set_title(SPACES[name], fontsize=9)
        axis.tick_params(labelsize=7)
    figure_.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure_.savefig(path, dpi=110)
    plt.close(figure_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", nargs="+", default=list(SPACES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--generations", type=int, default=25)
    parser.add_argument("-o", "--output", type=Path, default=None, help="run folders (default: a temporary folder)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    scratch = tempfile.TemporaryDirectory()
    out = args.output or Path(scratch.name)
    benches, all_tables, within_results, costs = {}, {}, {}, {}
    for name in args.spaces:
        bench = load_benchmark(name)
        stored = stored_steps(bench)
        benches[name] = bench
        all_tables[name] = tables_of(bench, stored.steps, stored.details, args.jobs)
        within_results[name] = within(bench, all_tables[name], args.seeds, args, out)
        costs[name] = cost_per_arch(bench, all_tables[name], stored.seconds, stored.default_seconds)
    lines = ["| space (rows) | method | held-out Kendall | size-matched Kendall | seconds per architecture | formula "
             "of seed 0 |", "|---|---|---|---|---|---|"]
    for name, results in within_results.items():
        for method, result in results.items():
            formula = f"`{result['formulas'][0]}`" if result.get("formulas") else ""
            lines.append(f"| {SPACES[name]} ({len(all_tables[name]['weights'])}) | {method} | "
                         f"{mean(result['kendall']):.3f} +- {np.nanstd(np.asarray(result['kendall'], float)):.3f} | "
                         f"{mean(result['matched']):.3f} | {costs[name].get(method, math.nan):.3g} | {formula} |")
    within_text = ("Within each space, on the architectures with stored few-step values: held-out Kendall (mean over "
                   f"{FOLDS} folds x search seeds {' '.join(map(str, args.seeds))}, +- its sd over those folds), "
                   "size-matched Kendall (mean over folds; pairs within 10% non-embedding size), and the cost per "
                   "architecture on this machine.\n\n" + "\n".join(lines) + "\n")
    print(within_text, flush=True)
    loso_rows = loso(benches, all_tables, args.seeds, args, out) if all(n in benches for n in LOSO) else []
    arms = loso_arms(all_tables) if loso_rows else []
    lomo = ["| left-out space | best count | config_linear / config_gbr (fitted on the other spaces) | "
            + " | ".join(arms) + " |", "|---|---|---|" + "---|" * len(arms)]
    for row in loso_rows:
        cells = []
        for arm in arms:
            vs = row[f"{arm}:vs_count"]
            gap = f" ({vs['difference']:+.3f} [{vs['low']:+.3f}, {vs['high']:+.3f}])" if vs else ""
            cells.append(f"{row[arm]:.3f} / {row[f'{arm}:matched']:.3f}{gap}")
        lomo.append(f"| {SPACES[row['left']]} | {row['count']:.3f} / {row['count_matched']:.3f} ({row['best_count']}) "
                    f"| {row['config_linear']:.3f} / {row['config_gbr']:.3f} | " + " | ".join(cells) + " |")
    lomo_text = ("Leave one space out: Kendall / size-matched Kendall on the left-out space's stored rows of a "
                 f"formula searched on the other three (mean over search seeds {' '.join(map(str, args.seeds))}; in "
                 "brackets its Kendall minus the best count's with a 95% paired-bootstrap interval), beside the best "
                 "count there and regressions on the config fields fitted on the other spaces.\n\n"
                 + "\n".join(lomo) + "\n")
    if loso_rows:
        print(lomo_text, flush=True)
    elapsed = (time.perf_counter() - start) / 60
    if not args.no_docs:
        extra = f"Search population {args.population}, {args.generations} generations; whole study {elapsed:.1f} min."
        write_table("steps-within", within_text, "experiments/step_study.py", extra)
        if loso_rows:
            write_table("steps-lomo", lomo_text, "experiments/step_study.py", extra)
        figure(costs, within_results, ROOT / "docs" / "figures" / "steps-cost.png")
        (ROOT / "results").mkdir(exist_ok=True)
        (ROOT / "results" / "steps.json").write_text(json.dumps({"within": within_results, "loso": loso_rows,
                                                                 "costs": costs}, indent=1, default=str))
    scratch.cleanup()


if __name__ == "__main__":
    main()
