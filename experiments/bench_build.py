"""Time to build every model of the shipped benchmarks on one core (median per model over repeated passes).

    python experiments/bench_build.py [--repeats 3]

Each pass starts with an empty draw cache (see discover/builders/init.py), so the figure includes the random draws
a fresh worker makes; the first model of a pass is the slowest, and the 'first model' column reports it.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from discover import build_model, load_benchmark
from discover.benchmarks import seeding as init


def time_pass(bench, builder):
    init.clear_draw_cache()
    times = []
    for arch in bench.archs:
        start = time.perf_counter()
        build_model(bench, arch, builder)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.repeats} passes")
    print(f"{'benchmark':<16} {'builder':<11} {'models':>6} {'median ms/model':>16} {'first model ms':>15} "
          f"{'pass s (median)':>16}")
    for name, builders in [("nas-bench-bert", ["as-trained", "spec", "legacy"]), ("lts-gpt2-wt103", [None])]:
        bench = load_benchmark(name)
        for builder in builders:
            passes = [time_pass(bench, builder) for _ in range(args.repeats)]
            per_model = statistics.median(t for p in passes for t in p)
            first = statistics.median(p[0] for p in passes)
            total = statistics.median(sum(p) for p in passes)
            print(f"{name:<16} {builder or 'as-trained':<11} {len(bench):>6} {per_model * 1e3:>16.1f} "
                  f"{first * 1e3:>15.1f} {total:>16.2f}")


if __name__ == "__main__":
    main()
