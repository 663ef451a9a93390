"""The README's figures, from scratch: proxy-vs-target scatter grids and Kendall bar charts of every proxy.

    python experiments/figures.py [--jobs 2] [--out docs/figures] [--run runs/figures/nas-bench-bert]

1. A default 5-fold discovery on nas-bench-bert (as-trained) with transfer to lts-gpt2-wt103, as the README's Results
   table runs it (kept if RUN already holds one: delete it to search again).
2. ``zc-discover compare`` of every registered proxy and that discovered formula, on nas-bench-bert (as-trained) and on
   lts-gpt2-wt103, into OUT/<benchmark>/: compare.md, compare.csv, scatter.png and kendall.png. On BERT the discovered
   bar is its held-out mean over the five folds; on GPT-2 it is the formula found on BERT, scored unchanged.

Data-dependent scores come from the cache when ``experiments/data_proxies.py`` computed them with the same settings;
from a cold cache, probing takes about 10 minutes (nas-bench-bert) and 40 (lts-gpt2-wt103) with --jobs 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from discover.cli import main as zc_discover

BENCHMARKS = ("nas-bench-bert", "lts-gpt2-wt103")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--run", type=Path, default=Path("runs/figures/nas-bench-bert"))
    args = parser.parse_args()
    if not (args.run / "metrics.json").exists():
        status = zc_discover(["search", "nas-bench-bert", "-o", str(args.run), "--transfer", "lts-gpt2-wt103",
                              "--jobs", args.jobs, "--force"])
        if status:
            sys.exit(status)
    for name in BENCHMARKS:
        status = zc_discover(["compare", name, "--runs", str(args.run), "-o", str(args.out / name),
                              "--jobs", args.jobs])
        if status:
            sys.exit(status)


if __name__ == "__main__":
    main()
