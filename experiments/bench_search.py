"""Search speed: candidate evaluations per second, against a naive DEAP loop, and a default 5-fold search's wall time.

    python experiments/bench_search.py [--candidates 3000] [--jobs 2]

Both evaluators score the same random population (typed trees of the default search) on the nas-bench-bert
(as-trained) feature table: the fast path computes, per candidate, its values on all 500 architectures and the
Spearman correlation on the 375 fitness rows of a search stage (the validation correlation is computed only for trees
that reach the Pareto front); the naive loop one Spearman on all 500. The fast path is zc-discover's
``Scorer`` (stack-machine evaluation over numpy columns, batched rank correlation) with an empty memo, so every
candidate is computed; the naive loop is ``gp.compile`` plus ``scipy.stats.spearmanr`` per individual.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time

import numpy as np
from deap import creator, gp
from scipy import stats

from discover import ProxySearch, featurize, load_benchmark
from discover.search.gp import generate, make_pset
from discover.search.loop import Problem, Scorer, SearchConfig
from discover.search.plan import search_features, split_validation
from report import write_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    bench = load_benchmark("nas-bench-bert")
    table = featurize(bench, n_jobs=args.jobs)
    features, _ = search_features({bench.name: table})
    pset = make_pset(features)
    random.seed(0)
    population = [creator.ZcIndividual(generate(pset, 1, 4)) for _ in range(args.candidates)]
    distinct = len({str(p) for p in population})
    # The split a search stage scores every candidate on: all 500 rows, 3/4 for fitness, 1/4 for validation.
    train, validation = split_validation(np.arange(len(table)), SearchConfig.validation_fraction, 0)
    problem = Problem("nas-bench-bert", {f: table[f].to_numpy(float) for f in features},
                      table["target"].to_numpy(float), table["n_params"].to_numpy(float),
                      table["params_nonembedding"].to_numpy(float), table["arch_id"].tolist(), train, validation,
                      train[:0])

    names = [str(p) for p in population]
    timings = []
    for _ in range(7):  # a fresh scorer (empty memo) each time; the median of seven runs of a fraction of a second
        scorer = Scorer([problem], "spearman")
        start = time.perf_counter()
        scorer.score(population, names)
        timings.append(time.perf_counter() - start)
    fast = sorted(timings)[len(timings) // 2]

    columns = [problem.columns[f] for f in features]
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        for individual in population:
            function = gp.compile(individual, pset)
            values = np.broadcast_to(np.asarray(function(*columns), dtype=float), (len(table),))
            if np.all(np.isfinite(values)) and np.ptp(values) > 0:
                stats.spearmanr(values, problem.target)
    naive = time.perf_counter() - start

    config = SearchConfig()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = ProxySearch(folds=5, jobs=args.jobs, output=folder + "/run").fit(bench).run_
        wall = time.perf_counter() - start
    text = "\n".join([
        f"{args.candidates} random candidates ({distinct} distinct), {len(features)} features, 500 architectures.", "",
        "| evaluator | evaluations/s |", "|---|---|",
        f"| zc-discover (stack-machine trees over numpy columns, batched rank correlation, no memo; median of 7 "
        f"runs) | {distinct / fast:,.0f} |",
        f"| naive DEAP loop (gp.compile + scipy.stats.spearmanr per individual) | {args.candidates / naive:,.0f} |",
        "", f"A default 5-fold search (population {config.population}, {config.generations} generations, --jobs "
        f"{args.jobs}, features cached): {wall:.1f} s, {run.metrics['evaluations']:,} evaluations, held-out Kendall "
        f"{run.metrics['heldout']['nas-bench-bert']['kendall']:.3f}."]) + "\n"
    print(text)
    write_table("speed-search", text, "experiments/bench_search.py")


if __name__ == "__main__":
    main()
