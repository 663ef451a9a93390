"""Within one space, with its own labels: does a search that reads the data features beat a count?

    python experiments/within_space.py [--seeds 0 1 2 3 4] [--jobs 2] [-o results/within]

The leave-one-space-out study asks whether a formula carries to a space it never saw; this asks the easier question
the half-split row of that study raised: given labelled architectures of a space, does the search find a formula that
ranks the space's other architectures better than a size count? For every shipped space (NAS-Bench-BERT as trained,
GPT-2, Transformer-XL, Transformer-XL homogeneous), search seed and arm (weight features; weight and data features,
read from the stored values): a default 5-fold search, held-out Kendall on each fold. The count it is compared with
is chosen by the same protocol - on each fold, the size count of highest Kendall on that fold's training rows, scored
on its held-out rows - so both sides see the same labels. Every model is initialised with seed 0.

Writes docs/tables/within-space.md: per space and arm, the held-out Kendall (mean over seeds of the mean over folds,
+- its sd over seeds), the count's on the same folds, their difference averaged over the seeds x folds, and how many
of those folds the formula won.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import stats

from discover import ProxySearch, featurize, load_benchmark
from discover.features.config_fields import config_fields
from discover.proxies.supervised import cross_validated
from discover.proxies.weights import COUNT_PROXIES
from discover.scoring import proxy_scores
from discover.search.plan import fold_rows
from report import write_table
from transfer_study import SHORT, SPACES

FOLDS = 5


def count_scores(bench) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every size count's score of every architecture of ``bench``, and the target, in the search's row order."""
    table = featurize(bench, n_jobs=1)
    counts = {p: np.asarray(proxy_scores(bench, table, p, None, None, 0, {})[1], float) for p in COUNT_PROXIES}
    return counts, table["target"].to_numpy(float)


def count_on_folds(counts: dict[str, np.ndarray], target: np.ndarray, seed: int) -> tuple[list[float], list[str]]:
    """Per fold of ``seed``'s split (the search's own, ``fold_rows``): the held-out Kendall of the size count chosen on
    that fold's training rows, and its name."""
    kendalls, chosen = [], []
    for test in fold_rows(len(target), FOLDS, seed):
        train = np.setdiff1d(np.arange(len(target)), test)
        best = max(COUNT_PROXIES, key=lambda p: (stats.kendalltau(counts[p][train], target[train]).statistic, p))
        kendalls.append(float(stats.kendalltau(counts[best][test], target[test]).statistic))
        chosen.append(best)
    return kendalls, chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--spaces", nargs="+", default=list(SPACES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=Path("results/within"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/tables/within-space.md")
    args = parser.parse_args()
    lines = ["| space | arm | held-out Kendall (5-fold) | count chosen on the same training rows | difference "
             "(folds won) | formula of seed 0 |", "|---|---|---|---|---|---|"]
    for name in args.spaces:
        bench = load_benchmark(name)
        scores, target = count_scores(bench)
        count = {seed: count_on_folds(scores, target, seed) for seed in args.seeds}
        for arm, data in (("weights", False), ("weights + data", True)):
            found, differences, formulas = [], [], []
            for seed in args.seeds:
                search = ProxySearch(seed=seed, init_seed=0, folds=FOLDS, jobs=args.jobs, with_activations=data,
                                     progress=False,
                                     output=args.output / name / ("data" if data else "weights") / f"seed{seed}",
                                     force=True).fit(bench)
                folds = [search.metrics_["folds"][f"fold{k}"][name]["kendall"] for k in range(FOLDS)]
                found.append(float(np.mean(folds)))
                differences += [mine - theirs for mine, theirs in zip(folds, count[seed][0])]
                formulas.append(str(search.formula_))
            counts = [float(np.mean(count[seed][0])) for seed in args.seeds]
            chosen = sorted({c for seed in args.seeds for c in count[seed][1]})
            won = sum(d > 0 for d in differences)
            lines.append(f"| {SHORT[name]} | {arm} | {np.mean(found):.3f} +- {np.std(found):.3f} | "
                         f"{np.mean(counts):.3f} ({', '.join(chosen)}) | {np.mean(differences):+.3f} "
                         f"({won} of {len(differences)}) | `{formulas[0]}` |")
            print(lines[-1], flush=True)
        # the supervised references on the same folds: regressions on the config fields fitted on the training rows
        table = featurize(bench, n_jobs=1)
        fields = config_fields(table, {str(i): bench.arch(str(i)).config for i in table["arch_id"]})
        for kind in ("linear", "gbr"):
            per_seed = []
            for seed in args.seeds:
                predicted = cross_validated(fields, target, kind, seed, FOLDS)
                per_seed.append(float(np.mean([stats.kendalltau(predicted[test], target[test]).statistic
                                               for test in fold_rows(len(target), FOLDS, seed)])))
            lines.append(f"| {SHORT[name]} | config_{kind} (supervised: a regression on the config fields, fitted on "
                         f"the same training folds) | {np.mean(per_seed):.3f} +- {np.std(per_seed):.3f} | | | |")
            print(lines[-1], flush=True)
    text = ("Held-out Kendall of a default 5-fold search within each space (mean over search seeds "
            f"{' '.join(map(str, args.seeds))} of the mean over folds, +- sd over seeds), beside the size count chosen "
            "on each fold's training rows and scored on its held-out rows; difference: formula minus count, averaged "
            "over seeds x folds, with the number of those folds the formula won.\n\n" + "\n".join(lines) + "\n")
    print(text)
    if not args.no_docs:
        write_table("within-space", text, "experiments/within_space.py", "Models initialised with seed 0; the data "
                    "features read from the stored values.")


if __name__ == "__main__":
    main()
