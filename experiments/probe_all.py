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
from discover.probe_writer import probe_values
from discover.values import values_dir
from report import code_commit, write_table

SHIPPED = ("nas-bench-bert:as-trained", "nas-bench-bert:legacy", "lts-gpt2-wt103:as-trained",
           "lts-txl-wt103-homogeneous:as-trained", "lts-txl-wt103:as-trained")


def summary(folder: Path) -> None:
    """The stored values' costs, from their provenance: the wall time of the run that probed everything and of each
    later run (with what it probed again), and how long reading the file back takes (measured here: what every
    compare, score and search pays instead)."""
    import time

    from discover.probe_writer import run_history
    from discover.values import provenance, read_values
    lines = ["| values file | architectures | proxies + feature columns | probing everything (first run) | later runs "
             "(what they probed again) | read back in |", "|---|---|---|---|---|---|"]
    for path in sorted(folder.glob("*.csv.gz")):
        meta = provenance(path)
        runs = run_history(meta)
        start = time.perf_counter()
        read_values([path])   # parsed and checked, as the stored values are read
        seconds = time.perf_counter() - start
        first = runs[0]
        later = "; ".join(f"{run['wall_seconds'] / 60:.0f} min at {str(run['commit'])[:10]} "
                          f"({', '.join(run['changed']) if isinstance(run['changed'], list) else run['changed']})"
                          for run in runs[1:]) or "-"
        workers = f"{first['jobs']} worker" + ("s" if first["jobs"] != 1 else "")
        lines.append(f"| {path.name} | {meta['n']} | {len(meta['proxies'])} + {len(meta['features'])} | "
                     f"{first['wall_seconds'] / 60:.0f} min at {str(first['commit'])[:10]} ({workers}) "
                     f"| {later} | {seconds:.2f} s |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("probe-all", text, "experiments/probe_all.py", "On this project's two cores. A run's wall time counts "
                "only what it probed (architectures already cached cost it nothing); the Transformer-XL wt103 first "
                "run continued one stopped when two workers ran out of memory, so probing it took longer in all.")


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
