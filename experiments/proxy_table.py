"""The hand-designed proxies and the size counts on every builder of nas-bench-bert and on the three LTS spaces.

    python experiments/proxy_table.py [--jobs 2] [--seed 0]

Writes docs/tables/hand-designed.md: Spearman, Kendall, size-matched Kendall, partial Spearman given log size,
Kendall iso-params and top-10% precision of each weight-only proxy on all architectures.
"""
from __future__ import annotations

import argparse

from discover import compare, load_benchmark
from report import write_table

PROXIES = ["params", "params_attention", "params_ffn", "params_total", "flops", "zerolm", "nsc", "nsc_mp"]
SPACES = [("nas-bench-bert", ["as-trained", "spec", "legacy"]), ("lts-gpt2-wt103", ["as-trained"]),
          ("lts-txl-wt103", ["as-trained"]), ("lts-txl-wt103-homogeneous", ["as-trained"])]


def cell(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    lines = ["| benchmark | builder | proxy | Spearman | Kendall | size-matched Kendall | partial Spearman | "
             "Kendall iso-params | top-10% precision | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, builders in SPACES:
        bench = load_benchmark(name)
        for builder in builders:
            report = compare(bench, PROXIES, builder=builder, seed=args.seed, n_jobs=args.jobs)
            for proxy, row in report.set_index("proxy").loc[PROXIES].iterrows():
                lines.append(f"| {name} | {builder} | {proxy} | {cell(row.spearman)} | {cell(row.kendall)} | "
                             f"{cell(row.kendall_size_matched)} | {cell(row.partial_spearman)} | "
                             f"{cell(row.kendall_iso_params)} | {row.top10_precision:.2f} | {row.note} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("hand-designed", text, "experiments/proxy_table.py", f"Initialisation seed {args.seed}.")


if __name__ == "__main__":
    main()
