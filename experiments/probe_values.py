"""Per-architecture values of data-dependent proxies, written as a values file other scripts read back.

    python experiments/probe_values.py NAME [--builder legacy] [--proxies P ...] [--batch B --seq S]
        [--tokens uniform|zipf | --text FILE] [--gradient task|ones] [--device cuda] [--jobs 4] -o FILE.csv

Writes ``arch_id, proxy, value, failure, seconds`` (the columns of ``compare``'s values.csv, plus each proxy's cost on
that architecture) and, beside it, ``FILE.json`` with the benchmark, builder, probe settings, device, torch version
and wall time. ``fidelity.py --values`` and ``cross_space.py --values`` read these files, so the probing can run on
another machine (a GPU) and every figure drawn from it can be rechecked.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from discover import load_benchmark
from discover.probing import ProbeSettings
from discover.proxies import data_proxy_table, probe_proxies


def long_values(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """A data_proxy_table in the long format of values.csv, with each proxy's seconds."""
    rows = [{"arch_id": row["arch_id"], "proxy": name, "value": row[name],
             "failure": row[f"{name}:error"] if pd.notna(row[f"{name}:error"]) else None,
             "seconds": row[f"{name}:seconds"]}
            for _, row in table.iterrows() for name in names]
    return pd.DataFrame(rows, columns=["arch_id", "proxy", "value", "failure", "seconds"])


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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    long_values(table, names).to_csv(args.output, index=False)
    ids = table["arch_id"].tolist()
    meta = {"benchmark": bench.name, "builder": bench.family.builder(args.builder), "seed": args.seed,
            "n": len(ids), "proxies": names, "probe": {**settings.cache_key(), "tokens": settings.tokens,
                                                        "gradient": settings.gradient},
            "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
            "torch": torch.__version__, "jobs": args.jobs, "wall_seconds": round(wall, 1),
            "complete": len(ids) == len(bench.archs[: args.limit])}
    args.output.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(f"{bench.name} ({meta['builder']}): {len(ids)} architectures x {len(names)} proxies in {wall:.0f} s on "
          f"{meta['device']} -> {args.output}", flush=True)


if __name__ == "__main__":
    main()
