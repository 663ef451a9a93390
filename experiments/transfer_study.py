"""Leave-one-space-out: does a formula searched on some spaces hold on a space it never saw, better than size?

    python experiments/transfer_study.py [--arms weights data] [--seeds 0 1 2 3 4] [--jobs 2]
        [--fitness spearman] [-o results/transfer]

Two arms: the search over the weight features alone (``weights``) and over the weight features and the
data-dependent activation features (``data``: ``search --with-activations``, read from the stored values of every
architecture, so nothing is probed). For every arm, left-out space and search seed: search one formula on the other
three spaces together (no held-out folds: the left-out space is the test; ``--aggregate min``), score it unchanged on
the left-out space. Every model is initialised with seed 0 (the seed of the stored values); the search seeds vary.

Beside it, on every architecture of the left-out space: the size counts (non-embedding, attention, FFN and total
#params, FLOPs), the hand-designed proxies (zerolm - whose alpha is fitted on 50 labelled architectures of that space,
so it is not zero-shot - nsc, nsc_mp, w-pca, naswot) and the published ones (lpzero, lpzero_bert, eznas, snip, ...),
the single feature that is best on the training spaces, and two gauges of the room a formula has on the left-out
space: the single column and the product of two columns of highest Kendall there (ceilings: chosen on the test), and
a product chosen on a random half of it and scored on the other half, beside the count chosen on that half. Every
row gives Kendall, size-matched Kendall (pairs within 10% non-embedding size) and partial Spearman given log size;
the discovered formula's difference from the best count comes with a paired-bootstrap 95% interval over the
architectures.

Each search leaves a run folder under the output; a finished one is reused only when the code that made it is this
code (``config.json: versions.code``), else searched again. Writes transfer.json and, for the documentation,
docs/tables/transfer.md, docs/tables/transfer-formulas.md and docs/figures/transfer.png.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from discover import ProxySearch, engine, featurize, load_benchmark, score_proxy
from discover.metrics import paired_difference, table_quality
from discover.features.config_fields import config_fields
from discover.proxies import probe_proxies
from discover.proxies.supervised import other_spaces
from discover.proxies.probe_table import activation_table
from discover.proxies.weights import COUNT_PROXIES
from discover.runs import load_run
from discover.search.plan import search_features
from discover.version import code_version
from report import ROOT, update_readme, write_table

SPACES = ("nas-bench-bert", "lts-gpt2-wt103", "lts-txl-wt103", "lts-txl-wt103-homogeneous")
SHORT = {"nas-bench-bert": "BERT", "lts-gpt2-wt103": "GPT-2", "lts-txl-wt103": "TXL",
         "lts-txl-wt103-homogeneous": "TXL-homog"}
HAND_DESIGNED = ("zerolm", "nsc", "nsc_mp", "w-pca", "naswot")
# arm -> (search the data features too, fitness: None for --fitness); data-iso asks the search itself for what a count
# cannot give (Kendall over the training pairs of equal non-embedding size)
ARMS = {"weights": (False, None), "data": (True, None), "data-iso": (True, "iso")}
METRICS = ("kendall", "kendall_size_matched", "partial_spearman", "spearman")


def search(names: list[str], benches: dict, folder: Path, seed: int, arm: tuple, args) -> ProxySearch:
    """The search of ``names`` with ``seed``: loaded when its run folder was finished by this code, else run afresh
    (a folder of other code is replaced; an interrupted one of this code resumed)."""
    if (folder / "metrics.json").is_file():
        run = load_run(folder)
        if run.config.get("versions", {}).get("code") == code_version():
            return ProxySearch.load(folder)
        print(f"  {folder} was made by other code; searching again", flush=True)
        shutil.rmtree(folder)
    resume = (folder / "config.json").is_file()
    data, fitness = arm
    return ProxySearch(population=args.population, generations=args.generations, folds=1, seed=seed, init_seed=0,
                       fitness=fitness or args.fitness, aggregate="min", jobs=args.jobs, output=folder, resume=resume,
                       force=not resume and folder.exists(), with_activations=data).fit([benches[n] for n in names])


def best_single_feature(tables: dict, names: list[str]) -> str:
    """The feature whose worst Spearman over the training spaces is best (ties: the mean, then the name)."""
    features, _ = search_features({n: tables[n] for n in names})
    scored = []
    for feature in features:
        rhos = []
        for n in names:
            column = tables[n][feature].to_numpy(float)
            ok = np.isfinite(column).all() and np.ptp(column) > 0
            rhos.append(stats.spearmanr(column, tables[n]["target"]).statistic if ok else -2.0)
        scored.append((-min(rhos), -float(np.mean(rhos)), feature))
    return sorted(scored)[0][2]


def best_product(table: pd.DataFrame, rows: np.ndarray | None = None) -> tuple[float, str, str, int]:
    """The product of two columns (a column with itself included) of highest Kendall on ``rows`` of ``table``:
    every pair of positive columns is screened by the Spearman of its product (the rank of the sum of the logs), the
    three best partners of each column are kept, and the 200 best of those ranked by Kendall. Returns (Kendall, first
    column, second column, pairs screened). Chosen on the rows it is scored on, it is a ceiling, inflated by the
    choice among so many pairs; chosen on other rows, a fair estimate."""
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    columns = [c for c in table.columns if c not in ("arch_id", "target")]
    values = table[columns].to_numpy(float)[rows]
    keep = np.isfinite(values).all(0) & (values > 0).all(0) & (np.ptp(values, 0) > 0)
    logs, names = np.log(values[:, keep]), [c for c, k in zip(columns, keep) if k]
    target = stats.rankdata(table["target"].to_numpy(float)[rows])
    target = (target - target.mean()) / target.std()
    shortlist = []
    for i in range(len(names)):
        ranks = stats.rankdata(logs[:, i:i + 1] + logs[:, i:], axis=0)
        spread = ranks.std(0)   # 0 for a constant product: never shortlisted
        rho = np.divide(((ranks - ranks.mean(0)) * target[:, None]).mean(0), spread, out=np.full(len(spread), -2.0),
                        where=spread > 0)
        shortlist += [(rho[j], i, i + j) for j in np.argsort(-rho, kind="stable")[:3]]
    shortlist = sorted(shortlist, key=lambda item: (-item[0], item[1], item[2]))[:200]
    scored = [(stats.kendalltau(logs[:, i] + logs[:, j], target).statistic, names[i], names[j])
              for _, i, j in shortlist]
    best = max(scored, key=lambda item: (item[0], item[1], item[2]))
    return float(best[0]), best[1], best[2], len(names) * (len(names) + 1) // 2


def summarise(values: list) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return (float(np.mean(finite)), float(np.std(finite))) if finite else (math.nan, math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=["weights", "data"],
                        help="weights, data (weights + data features) and data-iso (the same, fitness iso)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), help="left-out spaces to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--generations", type=int, default=25)
    parser.add_argument("--fitness", default="spearman", choices=["spearman", "kendall", "iso", "partial"])
    parser.add_argument("-o", "--output", type=Path, default=Path("results/transfer"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/tables and docs/figures")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run every search on this Dask cluster (its stages are "
                        "tasks; this machine writes every run folder); --backend dask: a local one")
    parser.add_argument("--backend", default="loky", choices=["loky", "dask"])
    args = parser.parse_args()
    with engine(args.backend, args.scheduler, args.jobs) as active:
        run_study(args, active)


def run_study(args, active) -> None:
    start = time.perf_counter()
    benches = {name: load_benchmark(name) for name in SPACES}
    weights = {name: featurize(benches[name], n_jobs=args.jobs) for name in SPACES}
    with_data = any(ARMS[arm][0] for arm in args.arms)
    tables = {name: weights[name].merge(activation_table(benches[name], n_jobs=args.jobs), on="arch_id",
                                        validate="one_to_one") if with_data else weights[name] for name in SPACES}
    print(f"feature tables ready in {time.perf_counter() - start:.0f} s", flush=True)
    results: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "code": code_version(), "left_out": {}}
    planned = [(arm, left, seed) for left in args.spaces for arm in args.arms for seed in args.seeds]
    if active is not None:   # on a cluster every search runs at once, each sending its stage as a task
        from concurrent.futures import ThreadPoolExecutor
        workers = max(1, len(active.client.scheduler_info().get("workers", {})))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda plan: search([n for n in SPACES if n != plan[1]], benches, args.output / plan[0]
                                              / f"loso-{plan[1]}" / f"seed{plan[2]}", plan[2], ARMS[plan[0]], args),
                          planned))
    for left in args.spaces:
        train = [n for n in SPACES if n != left]
        table = tables[left]
        entry: dict = {"train": train, "arms": {}, "baselines": {}}
        for arm in args.arms:
            runs = [search(train, benches, args.output / arm / f"loso-{left}" / f"seed{seed}", seed, ARMS[arm], args)
                    for seed in args.seeds]
            values = [r.formula_.evaluate_with_reason(table)[0] for r in runs]
            single = best_single_feature({n: tables[n] for n in SPACES} if ARMS[arm][0] else weights, train)
            entry["arms"][arm] = {"formulas": [str(r.formula_) for r in runs],
                                  "ties": [r.metrics_.get("ties", {}).get("formulas") for r in runs],
                                  "quality": [table_quality(v, table).as_dict() for v in values],
                                  "values": [np.asarray(v, float).tolist() for v in values],
                                  "best_single": single,
                                  "best_single_quality": table_quality(table[single].to_numpy(float), table).as_dict()}
            print(f"{SHORT[left]} {arm}: {summarise([q['kendall'] for q in entry['arms'][arm]['quality']])} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        proxies = list(COUNT_PROXIES) + list(HAND_DESIGNED) + [p for p in probe_proxies() if p not in HAND_DESIGNED]
        scores = {}
        for proxy in proxies:
            result = score_proxy(benches[left], proxy, table=weights[left], seed=0, n_jobs=args.jobs)
            entry["baselines"][proxy] = {m: result[m] for m in METRICS}
            entry["baselines"][proxy]["reason"] = result["reason"]
            scores[proxy] = result
        # the ceiling of single features: the one best on the left-out space itself, chosen there (an upper bound on
        # what choosing one statistic could give, not a method: it looks at the test set)
        for label, metric in (("kendall", "kendall"), ("size_matched", "kendall_size_matched")):
            scored = []
            for column in [c for c in table.columns if c not in ("arch_id", "target")]:
                values = table[column].to_numpy(float)
                if np.isfinite(values).all() and np.ptp(values) > 0:
                    quality = table_quality(values, table).as_dict()
                    if quality[metric] is not None and math.isfinite(quality[metric]):
                        scored.append((quality[metric], column, quality))
            best = max(scored, key=lambda item: (item[0], item[1]))
            entry[f"ceiling_{label}"] = {"feature": best[1], **{m: best[2][m] for m in METRICS}}
        counts = {p: entry["baselines"][p]["kendall"] for p in COUNT_PROXIES}
        best_count = max(counts, key=lambda p: (counts[p], p))
        entry["best_count"] = best_count
        count_scores = {p: np.asarray(_proxy_values(benches[left], p, weights[left]), float) for p in COUNT_PROXIES}
        count_values = count_scores[best_count]
        # products of two columns: the best one chosen on the left-out space itself (a ceiling), and one chosen on a
        # random half of it and scored on the other half, beside the count chosen on the same half (a fair estimate
        # of what choosing a product could gain over choosing a count)
        _, first, second, pairs = best_product(table)
        product = table[first].to_numpy(float) * table[second].to_numpy(float)
        entry["ceiling_product"] = {"feature": f"{first}*{second}", "pairs": pairs,
                                    **{m: table_quality(product, table).as_dict()[m] for m in METRICS}}
        order = np.random.default_rng(0).permutation(len(table))
        half, other = order[: len(table) // 2], order[len(table) // 2:]
        _, first, second, _ = best_product(table, half)
        target = table["target"].to_numpy(float)
        half_count = max(COUNT_PROXIES, key=lambda p: (stats.kendalltau(count_scores[p][half], target[half]).statistic,
                                                        p))
        product = table[first].to_numpy(float) * table[second].to_numpy(float)
        entry["half_product"] = {
            "feature": f"{first}*{second}", "kendall": stats.kendalltau(product[other], target[other]).statistic,
            "count": half_count, "count_kendall": stats.kendalltau(count_scores[half_count][other],
                                                                   target[other]).statistic}
        # the supervised references across spaces: regressions on the generic config fields fitted on the other
        # three spaces (their targets as within-space ranks), scored on this one
        test_fields = _fields(benches[left], weights[left])
        train_sets = [(_fields(benches[n], weights[n]), weights[n]["target"].to_numpy(float)) for n in train]
        entry["config"] = {f"config_{kind}": table_quality(other_spaces(train_sets, test_fields, kind),
                                                           weights[left]).as_dict() for kind in ("linear", "gbr")}
        for arm in args.arms:
            entry["arms"][arm]["vs_best_count"] = paired_difference(entry["arms"][arm]["values"], count_values,
                                                                    table["target"].to_numpy(float))
        results["left_out"][left] = entry
    results["seconds"] = time.perf_counter() - start
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "transfer.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    main_table, formulas = report(results, args)
    print(main_table + "\n" + formulas)
    if not args.no_docs:
        extra = (f"Searches: population {args.population}, {args.generations} generations, fitness {args.fitness}, "
                 f"search seeds {' '.join(map(str, args.seeds))}, models initialised with seed 0; whole study "
                 f"{results['seconds'] / 60:.1f} min.")
        write_table("transfer", main_table, "experiments/transfer_study.py", extra)
        write_table("transfer-formulas", formulas, "experiments/transfer_study.py")
        path = write_table("transfer-summary", summary(results, args), "experiments/transfer_study.py", extra)
        update_readme("transfer-summary", path.read_text())
        figure(results, ROOT / "docs" / "figures" / "transfer.png")


def _proxy_values(bench, proxy: str, table: pd.DataFrame) -> np.ndarray:
    from discover.scoring import proxy_scores
    return proxy_scores(bench, table, proxy, None, None, 0, {})[1]


def _cell(values: dict) -> str:
    return " / ".join("-" if values.get(m) is None or not math.isfinite(values[m]) else f"{values[m]:.3f}"
                      for m in ("kendall", "kendall_size_matched", "partial_spearman"))


def report(results: dict, args) -> tuple[str, str]:
    """(the table of every method on every left-out space, the formulas found)."""
    spaces = list(results["left_out"])
    header = "| method | " + " | ".join(SHORT[s] for s in spaces) + " |"
    lines = ["Kendall / size-matched Kendall / partial Spearman given log size, on every architecture of the left-out "
             "space (discovered: mean over search seeds, +- sd of Kendall; [low, high]: 95% paired-bootstrap interval "
             "of its Kendall minus the best count's; bold: the best count).", "", header, "|---|" + "---|" * len(spaces)]
    for arm in args.arms:
        cells = []
        for left in spaces:
            arm_entry = results["left_out"][left]["arms"][arm]
            mean = {m: summarise([q[m] for q in arm_entry["quality"]])[0] for m in METRICS}
            sd = summarise([q["kendall"] for q in arm_entry["quality"]])[1]
            gap = arm_entry["vs_best_count"]
            cells.append(f"{_cell(mean)} (+- {sd:.3f}; vs {results['left_out'][left]['best_count']} "
                         f"{gap['difference']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}])")
        lines.append(f"| discovered ({arm}) | " + " | ".join(cells) + " |")
    # the best single feature depends only on the columns an arm may read: one row per set of columns
    for columns in dict.fromkeys("weights + data" if ARMS[arm][0] else "weights" for arm in args.arms):
        arm = next(a for a in args.arms if ("weights + data" if ARMS[a][0] else "weights") == columns)
        cells = [f"{_cell(results['left_out'][left]['arms'][arm]['best_single_quality'])} "
                 f"(`{results['left_out'][left]['arms'][arm]['best_single']}`)" for left in spaces]
        lines.append(f"| best single feature of the training spaces ({columns} columns) | " + " | ".join(cells)
                     + " |")
    for label, what in (("kendall", "Kendall"), ("size_matched", "size-matched Kendall")):
        cells = [f"{_cell(results['left_out'][left][f'ceiling_{label}'])} "
                 f"(`{results['left_out'][left][f'ceiling_{label}']['feature']}`)" for left in spaces]
        lines.append(f"| ceiling: the single feature of highest {what} on the left-out space itself (chosen on it: "
                     "not a method) | " + " | ".join(cells) + " |")
    entries = [results["left_out"][left] for left in spaces]
    cells = [f"{_cell(e['ceiling_product'])} (`{e['ceiling_product']['feature']}`, of "
             f"{e['ceiling_product']['pairs']:,} pairs)" for e in entries]
    lines.append("| ceiling: the product of two columns of highest Kendall on the left-out space itself (chosen on it: "
                 "not a method) | " + " | ".join(cells) + " |")
    cells = [f"{e['half_product']['kendall']:.3f} (`{e['half_product']['feature']}`) vs {e['half_product']['count']} "
             f"{e['half_product']['count_kendall']:.3f}" for e in entries]
    lines.append("| a product of two columns chosen on a random half of the left-out space, Kendall on the other half, "
                 "vs the count chosen on the same half | " + " | ".join(cells) + " |")
    first = results["left_out"][spaces[0]]["baselines"]
    for proxy in first:
        cells = []
        for left in spaces:
            values = results["left_out"][left]["baselines"][proxy]
            text = _cell(values)
            cells.append(f"**{text}**" if proxy == results["left_out"][left]["best_count"] else text)
        lines.append(f"| {proxy} | " + " | ".join(cells) + " |")
    formulas = ["| left-out space | arm | formulas (seeds in order) | candidates tying within 0.005 |", "|---|---|---|---|"]
    for left in spaces:
        for arm in args.arms:
            arm_entry = results["left_out"][left]["arms"][arm]
            formulas.append(f"| {SHORT[left]} | {arm} | " + "; ".join(f"`{f}`" for f in arm_entry["formulas"])
                            + f" | {arm_entry['ties']} |")
    return "\n".join(lines) + "\n", "\n".join(formulas) + "\n"


SUMMARY = ("zerolm", "nsc", "naswot", "w-pca", "lpzero", "lpzero_bert", "eznas")


def _fields(bench, table: pd.DataFrame) -> pd.DataFrame:
    return config_fields(table, {str(i): bench.arch(str(i)).config for i in table["arch_id"]})


def summary(results: dict, args) -> str:
    """The README's short table: the discovered formulas beside the best count and the main hand-designed and
    published proxies, Kendall / size-matched Kendall on each left-out space."""
    spaces = list(results["left_out"])

    def pair(values: dict) -> str:
        return " / ".join("-" if values.get(m) is None or not math.isfinite(values[m]) else f"{values[m]:.3f}"
                          for m in ("kendall", "kendall_size_matched"))
    lines = ["| left-out space | " + " | ".join(SHORT[s] for s in spaces) + " |", "|---|" + "---|" * len(spaces)]
    for arm in args.arms:
        cells = []
        for left in spaces:
            arm_entry = results["left_out"][left]["arms"][arm]
            mean = {m: summarise([q[m] for q in arm_entry["quality"]])[0] for m in METRICS}
            gap = arm_entry["vs_best_count"]
            cells.append(f"{pair(mean)} ({gap['difference']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}])")
        lines.append(f"| discovered ({arm}) | " + " | ".join(cells) + " |")
    lines.append("| best count | " + " | ".join(
        f"{pair(results['left_out'][s]['baselines'][results['left_out'][s]['best_count']])} "
        f"({results['left_out'][s]['best_count']})" for s in spaces) + " |")
    lines.append("| ceiling: best single feature chosen on the left-out space itself | " + " | ".join(
        f"{pair(results['left_out'][s]['ceiling_kendall'])} (`{results['left_out'][s]['ceiling_kendall']['feature']}`)"
        for s in spaces) + " |")
    lines.append("| ceiling: best product of two columns chosen on the left-out space itself | " + " | ".join(
        f"{pair(results['left_out'][s]['ceiling_product'])} (`{results['left_out'][s]['ceiling_product']['feature']}`)"
        for s in spaces) + " |")
    lines.append("| a product of two columns chosen on half of the left-out space, on the other half (the count chosen "
                 "on that half) | " + " | ".join(
                     f"{results['left_out'][s]['half_product']['kendall']:.3f} "
                     f"({results['left_out'][s]['half_product']['count_kendall']:.3f})" for s in spaces) + " |")
    if all("config" in results["left_out"][s] for s in spaces):
        for kind in ("config_linear", "config_gbr"):
            lines.append(f"| supervised: {kind} fitted on the other three spaces | " + " | ".join(
                pair(results["left_out"][s]["config"][kind]) for s in spaces) + " |")
    lines.append("| highest size-matched Kendall of a count | " + " | ".join(
        f"{max(results['left_out'][s]['baselines'][p]['kendall_size_matched'] for p in COUNT_PROXIES):.3f}"
        for s in spaces) + " |")
    for proxy in SUMMARY:
        lines.append(f"| {proxy} | " + " | ".join(pair(results["left_out"][s]["baselines"][proxy]) for s in spaces)
                     + " |")
    return ("Kendall / size-matched Kendall on every architecture of the left-out space (discovered: mean over "
            f"{len(args.seeds)} search seeds; in brackets its Kendall minus the best count's, with a 95% "
            "paired-bootstrap interval).\n\n" + "\n".join(lines) + "\n")


def figure(results: dict, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    spaces = list(results["left_out"])
    fig, axes = plt.subplots(1, len(spaces), figsize=(3.6 * len(spaces), 4.2), squeeze=False)
    for axis, left in zip(axes[0], spaces):
        entry = results["left_out"][left]
        names, values, errors, colours = [], [], [], []
        for arm, arm_entry in entry["arms"].items():
            mean, sd = summarise([q["kendall"] for q in arm_entry["quality"]])
            names.append(f"discovered ({arm})"), values.append(mean), errors.append(sd), colours.append("tab:orange")
        for proxy in list(COUNT_PROXIES) + list(HAND_DESIGNED) + ["lpzero_bert", "eznas", "lpzero"]:
            names.append(proxy), values.append(entry["baselines"][proxy]["kendall"]), errors.append(0)
            colours.append("tab:blue" if proxy in COUNT_PROXIES else "tab:green")
        axis.barh(names[::-1], values[::-1], xerr=errors[::-1], color=colours[::-1])
        axis.set_title(f"left out: {SHORT[left]}", fontsize=9)
        axis.set_xlim(min(0, np.nanmin(values) - 0.05), 1)
        axis.tick_params(labelsize=7)
        axis.set_xlabel("Kendall tau with trained quality", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
