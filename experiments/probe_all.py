"""Probe every architecture of every shipped benchmark once, and store the values in the repository.

    python experiments/probe_all.py [--only NAME:BUILDER ...] [--jobs 2] [--limit N] [--out data/values]

Every registered data-dependent proxy and every activation feature column, from one probe of each architecture
(16 x 128 uniform random tokens for NAS-Bench-BERT, 16 x 192 for the LTS models; seed 0). Each architecture's values
are cached as soon as it is probed, so a stopped run continues where it stopped; stored values that still match are
reused, so after a change of one proxy's definition only that proxy is probed again. Writes
``<out>/<benchmark>-<builder>.csv.gz`` (arch_id, proxy, value, failure, seconds) and ``<benchmark>-<builder>.json``
(benchmark digest, builder, seed, probe settings, code versions, wall time), which ``compare``, ``score``, ``search
--with-activations`` and the experiments read instead of probing.
"""
from __future__ import annotations

import argparse
import logging
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from discover import __version__, load_benchmark
from discover.probing import ProbeSettings
from discover.probing.activations import activation_feature_names
from discover.proxies.probe_table import entry_versions, probe_proxies, probe_records, records_to_long
from discover.proxies.stored import requested_provenance, values_dir
from discover.values import write_values

SHIPPED = ("nas-bench-bert:as-trained", "nas-bench-bert:legacy", "lts-gpt2-wt103:as-trained",
           "lts-txl-wt103-homogeneous:as-trained", "lts-txl-wt103:as-trained")


def code_commit() -> str | None:
    """The commit of the checkout these values were computed with ('+dirty' when it had uncommitted changes)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def probe_benchmark(name: str, builder: str, jobs: int, limit: int | None, chunk: int, out: Path) -> Path:
    """Probe one benchmark in chunks (a progress line with the ETA after each), then write its values file."""
    bench = load_benchmark(name)
    settings = ProbeSettings()
    names = list(probe_proxies())
    ids = [a.id for a in bench.archs][:limit]
    start, records = time.perf_counter(), {}
    for first in range(0, len(ids), chunk):
        part = ids[first:first + chunk]
        records.update(probe_records(bench, names, builder, 0, settings, part, jobs, with_features=True))
        done, elapsed = first + len(part), time.perf_counter() - start
        eta = elapsed / done * (len(ids) - done)
        print(f"{name} ({builder}): {done}/{len(ids)} architectures, {elapsed:.0f} s, ETA {eta / 60:.1f} min",
              flush=True)
    wall = time.perf_counter() - start
    values = records_to_long(records, names, with_features=True)
    meta = {**requested_provenance(bench, builder, 0, settings), "n": len(ids), "complete": len(ids) == len(bench),
            "proxies": names, "features": activation_feature_names(), "versions": entry_versions(names, True),
            "zc_discover": __version__, "commit": code_commit(), "python": platform.python_version(), "machine": platform.machine(),
            "jobs": jobs, "wall_seconds_this_run": round(wall, 1),
            "note": "wall_seconds_this_run counts only this invocation; architectures read from the cache cost ~0"}
    path, _ = write_values(values, out / f"{name}-{builder}.csv.gz", meta)
    failed = values.loc[values["failure"].notna(), ["arch_id", "proxy"]].drop_duplicates()
    print(f"{name} ({builder}): {len(ids)} architectures x {len(names)} proxies + "
          f"{len(activation_feature_names())} feature columns in {wall:.0f} s -> {path} ({len(failed)} failed values)",
          flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=list(SHIPPED), metavar="NAME:BUILDER",
                        help=f"benchmarks and builders (default: {' '.join(SHIPPED)})")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers")
    parser.add_argument("--limit", type=int, help="only the first N architectures of each (a smoke test)")
    parser.add_argument("--chunk", type=int, default=20, help="architectures between progress lines")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: data/values)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = args.out or values_dir()
    torch.set_num_threads(1)
    for item in args.only:
        name, _, builder = item.partition(":")
        if not builder:
            sys.exit(f"probe_all.py: give NAME:BUILDER, got {item!r}")
        probe_benchmark(name, builder, args.jobs, args.limit, args.chunk, out)


if __name__ == "__main__":
    main()
