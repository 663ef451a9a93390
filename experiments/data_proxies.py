"""Every data-dependent proxy on every shipped space, from the stored values of every architecture.

    python experiments/data_proxies.py [--jobs 2] [--only nas-bench-bert:legacy ...]

Reads ``data/values`` (experiments/probe_all.py probes whatever is missing or stale) and writes, per space,
docs/tables/data-proxies-<space>.md: Spearman, Kendall, size-matched Kendall, partial Spearman given log size,
Kendall iso-params, the proxy's cost per architecture when it was probed, and its failures. The correlations of the
released values of LPZero and training-free-nas, paired with the proxies that reproduce them, are computed from
those values by experiments/fidelity.py.
"""
from __future__ import annotations

import argparse

from discover import load_benchmark
from discover.comparison import compare
from discover.proxies import probe_proxies
from report import write_table

SPACES = ("nas-bench-bert:as-trained", "nas-bench-bert:legacy", "lts-gpt2-wt103:as-trained",
          "lts-txl-wt103:as-trained", "lts-txl-wt103-homogeneous:as-trained")


def cell(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=list(SPACES), metavar="NAME:BUILDER")
    args = parser.parse_args()
    names = list(probe_proxies())
    for item in args.only:
        bench_name, builder = item.split(":")
        bench = load_benchmark(bench_name)
        report = compare(bench, names + ["params"], builder, 0, args.jobs)
        lines = [f"{bench_name} ({builder}), all {len(bench)} architectures, default probe (seed 0).", "",
                 "| proxy | Spearman | Kendall | size-matched Kendall | partial Spearman | "
                 "Kendall iso-params | s/arch alone | failed |", "|---|---|---|---|---|---|---|---|"]
        for _, row in report.iterrows():
            lines.append(f"| {row.proxy} | {cell(row.spearman)} | {cell(row.kendall)} | {cell(row.kendall_size_matched)} | {cell(row.partial_spearman)} | "
                         f"{cell(row.kendall_iso_params)} | {row.seconds_per_arch:.2f} | {row.failed} |")
        text = "\n".join(lines) + "\n"
        print(text)
        write_table(f"data-proxies-{bench_name}-{builder}", text, "experiments/data_proxies.py",
                    "s/arch alone: the proxy's probe passes and arithmetic on one core, measured when the stored "
                    "values were probed (experiments/probe_all.py; its run history is in data/values/*.json).")


if __name__ == "__main__":
    main()
