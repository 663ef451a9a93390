"""Probe every architecture of every shipped benchmark once, and store the values in the repository.

    python experiments/probe_all.py [--only NAME:BUILDER ...] [--jobs 2] [--limit N] [--out data/values]

Every registered data-dependent proxy and every activation feature column, from one probe of each architecture
(16 x 128 uniform random tokens for NAS-Bench-BERT, 16 x 192 for the LTS models; seed 0): ``zc-discover probe`` for
each benchmark, with a progress line and the time left after every 20 architectures. Each architecture's values are
cached as soon as it is probed, so a stopped run continues where it stopped; stored values that still match are
reused, so after a change of one proxy's definition only that proxy is probed again. Writes
``<out>/<benchmark>-<builder>.csv.gz`` (arch_id, proxy, value, failure, seconds) and ``<benchmark>-<builder>.json``
(benchmark digest, builder, seed, probe settings, code versions and commit, wall time), which ``compare``,
``score``, ``search --with-activations`` and the experiments read instead of probing.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from discover import load_benchmark
from discover.probe_values import probe_values
from discover.proxies.stored import values_dir
from report import code_commit, write_table

SHIPPED = ("nas-bench-bert:as-trained", "nas-bench-bert:legacy", "lts-gpt2-wt103:as-trained",
           "lts-txl-wt103-homogeneous:as-trained", "lts-txl-wt103:as-trained")


def summary(folder: Path) -> None:
    """The stored values' costs, from their provenance: architectures, wall time of the run that wrote them, and how
    long reading the file back takes (measured here: what every compare, score and search pays instead)."""
    import json
    import time

    from discover.values import read_values
    lines = ["| values file | architectures | proxies + feature columns | wall time of its run | read back in | commit |",
             "|---|---|---|---|---|---|"]
    for meta_path in sorted(folder.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        start = time.perf_counter()
        read_values([meta_path.with_suffix(".csv.gz")])   # parsed and checked, as the stored values are read
        seconds = time.perf_counter() - start
        lines.append(f"| {meta_path.stem}.csv.gz | {meta['n']} | {len(meta['proxies'])} + {len(meta['features'])} | "
                     f"{meta['wall_seconds_this_run'] / 60:.0f} min | {seconds:.2f} s | "
                     f"{str(meta.get('commit'))[:10]} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("probe-all", text, "experiments/probe_all.py", "Two workers on this project's two cores; the wall "
                "time counts only the run that wrote the file (architectures already cached cost it nothing).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=list(SHIPPED), metavar="NAME:BUILDER",
                        help=f"benchmarks and builders (default: {' '.join(SHIPPED)})")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers")
    parser.add_argument("--limit", type=int, help="only the first N architectures of each (a smoke test)")
    parser.add_argument("--chunk", type=int, default=20, help="architectures between progress lines")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: data/values)")
    parser.add_argument("--summary", action="store_true", help="probe nothing: write the table of what the stored "
                        "values cost (docs/tables/probe-all.md) from their provenance files")
    args = parser.parse_args()
    if args.summary:
        summary(args.out or values_dir())
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = args.out or values_dir()
    torch.set_num_threads(1)
    commit = code_commit()
    for item in args.only:
        name, _, builder = item.partition(":")
        if not builder:
            sys.exit(f"probe_all.py: give NAME:BUILDER, got {item!r}")
        bench = load_benchmark(name)
        ids = [a.id for a in bench.archs][: args.limit]

        def report(done, total, seconds, name=name, builder=builder):
            print(f"{name} ({builder}): {done}/{total} architectures, {seconds:.0f} s, about "
                  f"{seconds / done * (total - done) / 60:.1f} min left", flush=True)
        meta = probe_values(bench, out / f"{name}-{builder}.csv.gz", builder=builder, ids=ids, n_jobs=args.jobs,
                            chunk=args.chunk, commit=commit, on_progress=report)
        print(f"{name} ({builder}): {meta['n']} architectures x {len(meta['proxies'])} proxies + "
              f"{len(meta['features'])} feature columns in {meta['wall_seconds_this_run']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
