"""Speed of the heavy work on this machine, in one run: featurizing and probing NAS-Bench-BERT on the GPU (when
there is one), on every CPU core, and on two cores, and the ratios between them.

    python experiments/bench_speed.py [--archs 500] [--device cuda] [--skip-probe]

Featurizing: all 500 as-trained models, from an empty cache (``featurize(use_cache=False)``); on a GPU the distinct
matrices are drawn, stacked by shape and decomposed by batched float64 SVDs on the device. Probing: the 16 published
data-dependent proxies (``PROBE_16``) on the first ``--archs`` architectures, nothing read from the caches or the
stored values. Goals (issue #21): 16 proxies on 500 NAS-Bench-BERT <= 60 s on an H100/H200-class GPU; featurize faster
on the GPU than on that machine's CPU cores; all cores >= 6x two cores on a 16-core machine. Where there is no GPU,
the GPU rows say so and the CPU rows are measured as usual.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from discover import featurize, load_benchmark
from discover.proxies import data_proxy_table
from report import write_table

PROBE_16 = ("grad_norm", "snip", "synflow", "logsynflow", "grasp", "fisher", "jacob_cov", "naswot",
            "activation_distance", "attention_confidence", "head_softmax_confidence", "head_importance",
            "synaptic_diversity", "w-pca", "lpzero", "eznas")


def timed(function) -> float:
    with tempfile.TemporaryDirectory() as cache:   # nothing cached between the measured runs
        os.environ["ZC_DISCOVER_CACHE"] = cache
        start = time.perf_counter()
        function()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=500, help="architectures probed (featurizing takes all 500)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else None)
    parser.add_argument("--skip-probe", action="store_true")
    args = parser.parse_args()
    bench = load_benchmark("nas-bench-bert")
    ids = [a.id for a in bench.archs][: args.archs]
    cores = os.cpu_count() or 1
    settings = [("2 cores", "cpu", 2)] + ([(f"{cores} cores", "cpu", cores)] if cores != 2 else [])
    if args.device:
        settings.append((torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
                         args.device, 1))
    rows = []
    for label, device, jobs in settings:
        seconds = timed(lambda: featurize(bench, n_jobs=jobs, device=device, use_cache=False))
        probe = None if args.skip_probe else timed(lambda: data_proxy_table(
            bench, list(PROBE_16), n_jobs=jobs, ids=ids, device=device, use_cache=False, use_stored=False))
        rows.append((label, seconds, probe))
        print(f"{label}: featurize {seconds:.1f} s" + ("" if probe is None else f", 16 proxies x {len(ids)} archs "
                                                                                f"{probe:.1f} s"), flush=True)
    base = rows[0]
    lines = [f"nas-bench-bert (as-trained): featurize all 500 from an empty cache; probe {len(ids)} with the 16 "
             "published data-dependent proxies.", "",
             "| where | featurize s | x two cores | 16 proxies s | x two cores |", "|---|---|---|---|---|"]
    for label, seconds, probe in rows:
        probe_cells = "- | -" if probe is None else f"{probe:.1f} | {base[2] / probe:.2f}"
        lines.append(f"| {label} | {seconds:.1f} | {base[1] / seconds:.2f} | {probe_cells} |")
    if not args.device:
        lines += ["", "No GPU on this machine: the GPU row was not measured (the script runs unchanged on one)."]
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("speed", text, "experiments/bench_speed.py")


if __name__ == "__main__":
    main()
