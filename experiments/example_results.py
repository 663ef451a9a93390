"""What discovery reaches on the example benchmark of your own kind (examples/tiny-lm), against the counts and the
published proxies on the same models.

    python experiments/example_results.py [--jobs 2] [-o results/tiny-lm]

A default 5-fold search over the weight features and one over weight and data features (the data features probed,
36 small models), each formula's held-out Kendall, beside every count, the hand-designed proxies and a few published
data-dependent ones on all 36. Writes docs/tables/tiny-lm.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from discover import ProxySearch, compare, load_benchmark
from discover.proxies.weights import COUNT_PROXIES
from report import ROOT, write_table

OTHERS = ["zerolm", "nsc", "naswot", "snip", "synflow", "w-pca", "lpzero", "eznas"]


def cell(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=Path("results/tiny-lm"))
    args = parser.parse_args()
    bench = load_benchmark(f"hf:{ROOT / 'examples' / 'tiny-lm'}")
    lines = ["| proxy | Kendall | Spearman | size-matched Kendall | note |", "|---|---|---|---|---|"]
    for data in (False, True):
        run = ProxySearch(folds=5, jobs=args.jobs, with_activations=data, force=True,
                          output=args.output / ("data" if data else "weights")).fit(bench).run_
        held = run.metrics["heldout"][bench.name]
        lines.append(f"| **discovered, {'weights + data' if data else 'weights'} (5-fold held out)** | "
                     f"**{cell(held['kendall'])} +- {cell(held['kendall_std'])}** | {cell(held['spearman'])} | "
                     f"{cell(held['kendall_size_matched'])} | `{run.formula}` |")
    report = compare(bench, list(COUNT_PROXIES) + OTHERS, n_jobs=args.jobs)
    for _, row in report.iterrows():
        lines.append(f"| {row.proxy} (all 36) | {cell(row.kendall)} | {cell(row.spearman)} | "
                     f"{cell(row.kendall_size_matched)} | {row.note} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("tiny-lm", text, "experiments/example_results.py", "Searches: population 200, 25 generations, "
                "seed 0; the benchmark: examples/tiny-lm (examples/make_tiny_lm.py).")


if __name__ == "__main__":
    main()
