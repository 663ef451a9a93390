"""Per-architecture values of data-dependent proxies, written as a values file other scripts read back.

    python experiments/probe_values.py NAME [--builder legacy] [--proxies P ...] [--batch B --seq S]
        [--tokens uniform|zipf | --text FILE] [--gradient task|ones] [--device cuda] [--jobs 4] -o FILE.csv

Writes ``arch_id, proxy, value, failure, seconds`` (the long values format; ``.csv.gz`` compresses) and, beside it,
``FILE.json``: the benchmark and its digest, builder, seed, probe settings, every proxy's version, device, torch
version and wall time - what ``compare --values`` checks before it reads a value. ``experiments/probe_all.py`` does
this for every shipped benchmark at once. ``fidelity.py --values`` and ``cross_space.py --values`` read these files, so the probing can run on
another machine (a GPU) and every figure drawn from it can be rechecked.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from discover import load_benchmark
from discover.probing import ProbeSettings
from discover.proxies import PROXIES, data_proxy_table, probe_proxies
from discover.proxies.stored import values_provenance
from discover.values import long_values, write_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--builder")
    parser.add_argument("--proxies", nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--seq", type=int)
    parser.add_argument("--tokens", default="uniform", choices=["uniform", "zipf"])
    parser.add_argument("--text")
    parser.add_argument("--gradient", default="task", choices=["task", "ones"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--budget", type=float, help="start no new chunk of architectures after this many seconds; "
                                                      "what was probed is written (the JSON says how many)")
    parser.add_argument("--chunk", type=int, default=40)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    bench = load_benchmark(args.name)
    names = args.proxies or list(probe_proxies())
    settings = ProbeSettings(args.batch, args.seq, args.tokens, args.text, args.gradient)
    ids = [a.id for a in bench.archs][: args.limit]
    start = time.perf_counter()
    parts = []
    for first in range(0, len(ids), args.chunk):   # in chunks, so that a time budget still leaves results
        if parts and args.budget and time.perf_counter() - start > args.budget:
            break
        parts.append(data_proxy_table(bench, names, args.builder, args.seed, n_jobs=args.jobs,
                                      ids=ids[first:first + args.chunk], device=args.device, settings=settings))
    table = pd.concat(parts, ignore_index=True)
    wall = time.perf_counter() - start
    ids = table["arch_id"].tolist()
    builder = bench.family.builder(args.builder)
    meta = values_provenance(bench, builder, args.seed, settings, names, [],
                             {name: PROXIES[name].version for name in names}, n=len(ids),
                             complete=len(ids) == len(bench.archs[: args.limit]), jobs=args.jobs,
                             wall_seconds=round(wall, 1))
    meta["device"] = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    write_values(long_values(table, names), args.output, meta)
    print(f"{bench.name} ({meta['builder']}): {len(ids)} architectures x {len(names)} proxies in {wall:.0f} s on "
          f"{meta['device']} -> {args.output}", flush=True)


if __name__ == "__main__":
    main()
