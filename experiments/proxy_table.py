"""The README's table of hand-designed proxies: every builder of nas-bench-bert and lts-gpt2-wt103.

    python experiments/proxy_table.py [--jobs 2] [--seed 0]
"""
from __future__ import annotations

import argparse

from discover import load_benchmark
from discover.compare import compare

PROXIES = ["params", "params_total", "flops", "zerolm", "nsc", "nsc_mp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| benchmark | builder | proxy | Spearman | Kendall | Kendall iso-params | top-10% precision | note |")
    print("|---|---|---|---|---|---|---|---|")
    for name, builders in [("nas-bench-bert", ["as-trained", "spec", "legacy"]), ("lts-gpt2-wt103", ["as-trained"])]:
        bench = load_benchmark(name)
        for builder in builders:
            report = compare(bench, PROXIES, builder, args.seed, args.jobs).set_index("proxy").loc[PROXIES]
            for proxy, row in report.iterrows():
                print(f"| {name} | {builder} | {proxy} | {row.spearman:.3f} | {row.kendall:.3f} | "
                      f"{row.kendall_iso_params:.3f} | {row.top10_precision:.2f} | {row.note} |")


if __name__ == "__main__":
    main()
