"""The README's table of hand-designed proxies: every builder of nas-bench-bert, and the three LTS spaces.

    python experiments/proxy_table.py [--jobs 2] [--seed 0]
"""
from __future__ import annotations

import argparse

from discover import load_benchmark
from discover import compare

PROXIES = ["params", "params_attention", "params_total", "flops", "zerolm", "nsc", "nsc_mp"]
SPACES = [("nas-bench-bert", ["as-trained", "spec", "legacy"]), ("lts-gpt2-wt103", ["as-trained"]),
          ("lts-txl-wt103", ["as-trained"]), ("lts-txl-wt103-homogeneous", ["as-trained"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| benchmark | builder | proxy | Spearman | Kendall | Kendall iso-params | top-10% precision | note |")
    print("|---|---|---|---|---|---|---|---|")
    for name, builders in SPACES:
        bench = load_benchmark(name)
        for builder in builders:
            report = compare(bench, PROXIES, builder=builder, seed=args.seed, n_jobs=args.jobs)
            report = report.set_index("proxy").loc[PROXIES]
            for proxy, row in report.iterrows():
                print(f"| {name} | {builder} | {proxy} | {row.spearman:.3f} | {row.kendall:.3f} | "
                      f"{row.kendall_iso_params:.3f} | {row.top10_precision:.2f} | {row.note} |")


if __name__ == "__main__":
    main()
