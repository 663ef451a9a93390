"""Dask against local processes, in one run: probing 40 NAS-Bench-BERT architectures on a local cluster of one and of
two worker processes, with the values compared byte for byte against a local run.

    python experiments/bench_dask.py [--archs 40] [--proxies snip grad_norm naswot w-pca]

Goal (issue #21): two workers >= 1.7x one worker; values identical to a local run. Run it on an otherwise idle
machine: the ratio is of wall times.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from discover import engine, load_benchmark
from discover.proxies import data_proxy_table
from report import write_table


def probe(bench, ids, proxies, workers=None):
    with tempfile.TemporaryDirectory() as cache:
        os.environ["ZC_DISCOVER_CACHE"] = cache
        start = time.perf_counter()
        if workers is None:
            table = data_proxy_table(bench, proxies, ids=ids, n_jobs=1, use_stored=False)
        else:
            with engine(backend="dask", n_jobs=workers):
                table = data_proxy_table(bench, proxies, ids=ids, use_stored=False)
        return table, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=40)
    parser.add_argument("--proxies", nargs="+", default=["snip", "grad_norm", "naswot", "synflow", "w-pca",
                                                             "eznas", "lpzero_bert"])
    args = parser.parse_args()
    bench = load_benchmark("nas-bench-bert")
    ids = [a.id for a in bench.archs][: args.archs]
    local, local_s = probe(bench, ids, args.proxies)
    one, one_s = probe(bench, ids, args.proxies, 1)
    two, two_s = probe(bench, ids, args.proxies, 2)
    identical = all(np.array_equal(local[p].to_numpy(), t[p].to_numpy(), equal_nan=True)
                    for t in (one, two) for p in args.proxies)
    lines = [f"{len(ids)} NAS-Bench-BERT architectures x {len(args.proxies)} proxies ({', '.join(args.proxies)}), "
             "nothing read from caches or stored values.", "", "| where | seconds | x one worker |", "|---|---|---|"]
    for label, seconds in (("this process (no Dask)", local_s), ("Dask, 1 worker", one_s), ("Dask, 2 workers",
                                                                                          two_s)):
        lines.append(f"| {label} | {seconds:.1f} | {one_s / seconds:.2f} |")
    lines += ["", f"Values identical to the local run's, bit for bit: {'yes' if identical else 'NO'}."]
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("speed-dask", text, "experiments/bench_dask.py")


if __name__ == "__main__":
    main()
