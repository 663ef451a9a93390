"""Featurization speed from a cold cache, against the floor of the SVDs it cannot avoid.

    python experiments/bench_featurize.py [--jobs 2]

For each benchmark: the wall time of ``featurize`` with no cache, and in the same run two floors measured on the
same single-threaded torch: the SVDs of the distinct matrices featurization needs (architectures share weights, see
discover/builders/init.py - this is the work that cannot be skipped), and the naive floor of one SVD per matrix of
every model, estimated from the distinct ones weighted by how often each occurs.
"""
from __future__ import annotations

import argparse
import collections
import time

import torch

from discover import load_benchmark
from discover.benchmarks.seeding import clear_draw_cache, draw
from discover.features.table import featurize, plan_chunk
from primitives.statistics import singular_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, --jobs {args.jobs}; floors are single-threaded SVD seconds / jobs")
    print(f"{'benchmark':<16} {'builder':<11} {'archs':>5} {'matrices':>8} {'distinct':>8} {'featurize s':>11} "
          f"{'floor s':>8} {'ratio':>6} {'naive floor s':>13}")
    for name, builders in [("nas-bench-bert", ["as-trained", "spec", "legacy"]), ("lts-gpt2-wt103", ["as-trained"])]:
        bench = load_benchmark(name)
        for builder in builders:
            clear_draw_cache()
            start = time.perf_counter()
            featurize(bench, builder, seed=0, n_jobs=args.jobs, use_cache=False)
            wall = time.perf_counter() - start
            plans = plan_chunk(bench, [a.id for a in bench.archs], builder, 0)
            occurrences = collections.Counter(key for p in plans for _, _, key in p.matrices)
            torch.set_num_threads(1)
            svd_seconds = {}
            for key in occurrences:
                values = draw(key, cache=False)
                matrix = values.reshape(values.shape[0], -1)
                tick = time.perf_counter()
                singular_values(matrix)
                svd_seconds[key] = time.perf_counter() - tick
            torch.set_num_threads(2)
            floor = sum(svd_seconds.values()) / args.jobs
            naive = sum(svd_seconds[k] * n for k, n in occurrences.items()) / args.jobs
            print(f"{name:<16} {builder:<11} {len(bench):>5} {sum(occurrences.values()):>8} {len(occurrences):>8} "
                  f"{wall:>11.1f} {floor:>8.1f} {wall / floor:>6.2f} {naive:>13.0f}")


if __name__ == "__main__":
    main()
