"""Leave-one-space-out: does a formula searched on some spaces hold on a space it never saw, better than size?

    python experiments/transfer_study.py [--seeds 0 1 2 3 4] [--jobs 2] [-o results/transfer]

For every left-out space and seed: search one formula on the other three spaces together (no held-out folds: the
left-out space is the test), score it unchanged on the left-out space. Beside it, on the same space: non-embedding
#params, attention #params, zerolm, nsc, nsc_mp, and the single feature that is best on the training spaces (chosen
there by the search's fitness, never on the left-out space), all at initialisation seed 0. Then each space searched alone and scored on every
other space, so the gain of searching several spaces shows. Each search leaves a run folder under the output; a
finished one is reused and an interrupted one resumed, so the study can be run in pieces (--spaces, --seeds).
Prints Markdown tables and writes transfer.json, transfer.md and (with matplotlib) transfer.png.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from discover import ProxySearch, featurize, load_benchmark, score_proxy
from discover.metrics import rank_quality
from discover.search.plan import search_features

SPACES = ("nas-bench-bert", "lts-gpt2-wt103", "lts-txl-wt103", "lts-txl-wt103-homogeneous")
BASELINES = ("params", "params_attention", "flops", "zerolm", "nsc", "nsc_mp")
SHORT = {"nas-bench-bert": "BERT", "lts-gpt2-wt103": "GPT-2", "lts-txl-wt103": "TXL",
         "lts-txl-wt103-homogeneous": "TXL-homog"}


def search(names: list[str], benches: dict, folder: Path, seed: int, args) -> ProxySearch:
    """The search of ``names`` with ``seed``: loaded when its run folder is finished, else run (or resumed)."""
    if (folder / "metrics.json").is_file():
        return ProxySearch.load(folder)
    return ProxySearch(population=args.population, generations=args.generations, folds=1, seed=seed,
                       aggregate=args.aggregate, jobs=args.jobs, output=folder,
                       resume=(folder / "config.json").is_file()).fit([benches[n] for n in names])


def quality(values: np.ndarray, table: pd.DataFrame) -> dict:
    return rank_quality(values, table["target"], table["n_params"]).as_dict()


def best_single_feature(tables: dict, names: list[str], aggregate: str) -> str:
    """The feature whose Spearman on the training spaces, aggregated like the search's fitness, is best (ties:
    mean over spaces, then name)."""
    features, _ = search_features({n: tables[n] for n in names})
    scored = []
    for feature in features:
        rhos = []
        for n in names:
            column = tables[n][feature].to_numpy(float)
            ok = np.isfinite(column).all() and np.ptp(column) > 0
            rhos.append(stats.spearmanr(column, tables[n]["target"]).statistic if ok else -2.0)
        combined = min(rhos) if aggregate == "min" else float(np.mean(rhos))
        scored.append((-combined, -float(np.mean(rhos)), feature))
    return sorted(scored)[0][2]


def summarise(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return (float(np.mean(finite)), float(np.std(finite))) if finite else (math.nan, math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), help="left-out spaces to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--generations", type=int, default=25)
    parser.add_argument("--aggregate", choices=["min", "mean"], default="min")
    parser.add_argument("-o", "--output", type=Path, default=Path("results/transfer"))
    args = parser.parse_args()
    benches = {name: load_benchmark(name) for name in SPACES}

    def table_of(name: str, seed: int):   # features at the seed the search used (it seeds the models too)
        return featurize(benches[name], seed=seed, n_jobs=args.jobs)
    tables = {name: table_of(name, 0) for name in SPACES}
    args.output.mkdir(parents=True, exist_ok=True)
    results: dict = {"settings": {k: v for k, v in vars(args).items() if k != "output"}, "left_out": {},
                     "single": {}}

    for left in args.spaces:
        train = [n for n in SPACES if n != left]
        table = tables[left]
        rows = {"discovered": [], "formulas": [], "ties": []}
        for seed in args.seeds:
            fitted = search(train, benches, args.output / f"loso-{left}" / f"seed{seed}", seed, args)
            seeded = table_of(left, seed)
            values, _ = fitted.formula_.evaluate_with_reason(seeded)
            rows["discovered"].append(quality(values, seeded))
            rows["formulas"].append(str(fitted.formula_))
            rows["ties"].append(fitted.metrics_.get("ties", {}).get("formulas"))
        baselines = {p: score_proxy(benches[left], p, table=table, seed=0) for p in BASELINES}
        single = best_single_feature(tables, train, args.aggregate)
        baselines[f"best single feature on the training spaces ({single})"] = quality(
            table[single].to_numpy(float), table)
        results["left_out"][left] = {"train": train, "discovered": rows["discovered"], "formulas": rows["formulas"],
                                     "ties": rows["ties"],
                                     "baselines": {k: {m: v[m] for m in ("spearman", "kendall", "kendall_iso_params")}
                                                   for k, v in baselines.items()}}

    for space in args.spaces:
        moved: dict = {other: [] for other in SPACES if other != space}
        formulas = []
        for seed in args.seeds:
            fitted = search([space], benches, args.output / f"single-{space}" / f"seed{seed}", seed, args)
            formulas.append(str(fitted.formula_))
            for other in moved:
                seeded = table_of(other, seed)
                values, _ = fitted.formula_.evaluate_with_reason(seeded)
                moved[other].append(quality(values, seeded)["kendall"])
        results["single"][space] = {"formulas": formulas, "kendall": moved}

    (args.output / "transfer.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    text = report(results, args.seeds)
    (args.output / "transfer.md").write_text(text)
    print(text)
    figure(results, args.output / "transfer.png")


def report(results: dict, seeds: list[int]) -> str:
    lines = [f"Leave-one-space-out over seeds {', '.join(map(str, seeds))}: Kendall tau on the left-out space "
             "(mean +- sd over seeds for the discovered formula).", "",
             "| left-out space | proxy | Kendall | Spearman | Kendall iso-params |", "|---|---|---|---|---|"]
    for left, entry in results["left_out"].items():
        kendall = summarise([d["kendall"] for d in entry["discovered"]])
        spearman = summarise([d["spearman"] for d in entry["discovered"]])
        iso = summarise([d["kendall_iso_params"] for d in entry["discovered"]])
        lines.append(f"| {SHORT[left]} | **discovered on {' + '.join(SHORT[t] for t in entry['train'])}** | "
                     f"**{kendall[0]:.3f} +- {kendall[1]:.3f}** | {spearman[0]:.3f} | {iso[0]:.3f} +- {iso[1]:.3f} |")
        for name, values in entry["baselines"].items():
            lines.append(f"| {SHORT[left]} | {name} | {values['kendall']:.3f} | {values['spearman']:.3f} | "
                         f"{values['kendall_iso_params']:.3f} |")
    lines += ["", "Formulas found (one per seed):", ""]
    for left, entry in results["left_out"].items():
        distinct = sorted(set(entry["formulas"]), key=entry["formulas"].index)
        lines.append(f"- left out {SHORT[left]}: " + "; ".join(f"`{f}` ({entry['formulas'].count(f)})"
                                                                for f in distinct)
                     + f" - candidates tying within 0.005 on the training data: {entry['ties']}")
    lines += ["", "Single-space search, scored on every other space (Kendall, mean +- sd over seeds):", "",
              "| searched on | " + " | ".join(SHORT[s] for s in SPACES) + " | formulas |",
              "|---|" + "---|" * (len(SPACES) + 1)]
    for space, entry in results["single"].items():
        cells = []
        for other in SPACES:
            if other == space:
                cells.append("(searched)")
            else:
                mean, sd = summarise(entry["kendall"][other])
                cells.append(f"{mean:.3f} +- {sd:.3f}")
        distinct = sorted(set(entry["formulas"]), key=entry["formulas"].index)
        lines.append(f"| {SHORT[space]} | " + " | ".join(cells) + " | " + "; ".join(f"`{f}`" for f in distinct) + " |")
    return "\n".join(lines) + "\n"


def figure(results: dict, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    spaces = list(results["left_out"])
    figure, axes = plt.subplots(1, len(spaces), figsize=(3.4 * len(spaces), 3.4), squeeze=False)
    for axis, left in zip(axes[0], spaces):
        entry = results["left_out"][left]
        names = ["discovered"] + [n.split(" (")[0].replace("best single feature on the training spaces",
                                                          "best single") for n in entry["baselines"]]
        mean, sd = summarise([d["kendall"] for d in entry["discovered"]])
        values = [mean] + [v["kendall"] for v in entry["baselines"].values()]
        axis.barh(names[::-1], values[::-1], xerr=([0] * (len(values) - 1) + [sd]),
                  color=["tab:blue"] * (len(values) - 1) + ["tab:orange"])
        axis.set_title(f"left out: {SHORT[left]}", fontsize=9)
        axis.set_xlim(min(0, min(values) - 0.05), 1)
        axis.tick_params(labelsize=7)
        axis.set_xlabel("Kendall tau", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
