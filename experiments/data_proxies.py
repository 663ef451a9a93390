"""Data-dependent proxies on the shipped benchmarks: the README's cross-check table and their cost.

    python experiments/data_proxies.py [--jobs 2] [--seed 0] [--only nas-bench-bert:legacy ...]

Every registered data-dependent proxy on nas-bench-bert (the default as-trained builder, which the 10-minute budget is
measured on, and the legacy builder, whose models earlier studies probed) and on lts-gpt2-wt103, with the default probe
batch (16 x 128 tokens for FlexiBERT, 16 x 192 for GPT-2), next to the published Spearman correlations. Prints the
wall time of each benchmark's probing: run it with nothing else on the cores, from an empty ZC_DISCOVER_CACHE.
"""
from __future__ import annotations

import argparse
import time

from discover import load_benchmark
from discover.compare import compare
from discover.proxies import data_proxy_table, probe_proxies

PUBLISHED = {  # Spearman with the target, as published (see the README for sources)
    ("lts-gpt2-wt103", "as-trained"): {"snip": 0.970, "grad_norm": 0.957, "synaptic_diversity": 0.957,
                                       "head_importance": 0.971, "fisher": 0.873, "synflow": 0.732,
                                       "eznas": 0.565},
    ("nas-bench-bert", "legacy"): {"head_softmax_confidence": 0.716, "activation_distance": 0.331,
                                   "snip": 0.281, "synaptic_diversity": 0.241, "head_importance": 0.250},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-failed", action="store_true",
                        help="probe again the architectures on which a cached proxy failed")
    parser.add_argument("--only", nargs="*", default=["nas-bench-bert:as-trained", "nas-bench-bert:legacy",
                                                        "lts-gpt2-wt103:as-trained"])
    args = parser.parse_args()
    names = list(probe_proxies())
    for item in args.only:
        bench_name, builder = item.split(":")
        bench = load_benchmark(bench_name)
        start = time.perf_counter()
        data_proxy_table(bench, names, builder, args.seed, n_jobs=args.jobs, retry_failed=args.retry_failed)
        wall = time.perf_counter() - start
        report = compare(bench, names + ["params"], builder, args.seed, args.jobs)
        published = PUBLISHED.get((bench_name, builder), {})
        print(f"\n{bench_name} ({builder}), {len(bench)} architectures: all {len(names)} data-dependent proxies in "
              f"{wall:.0f} s with --jobs {args.jobs} (0 s if read from the cache)\n")
        print("| proxy | Spearman | published Spearman | Kendall | Kendall iso-params | s/arch alone | failed |")
        print("|---|---|---|---|---|---|---|")
        for _, row in report.iterrows():
            ref = published.get(row.proxy)
            print(f"| {row.proxy} | {row.spearman:.3f} | {'' if ref is None else f'{ref:.3f}'} | {row.kendall:.3f} | "
                  f"{row.kendall_iso_params:.3f} | {row.seconds_per_arch:.2f} | {row.failed} |")


if __name__ == "__main__":
    main()
