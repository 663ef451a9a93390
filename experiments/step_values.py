"""Few-step training signals of the shipped spaces, stored in the repository (issue #28).

    python experiments/step_values.py [--only NAME ...] [--jobs 2] [--steps 1 4 16 64]

Each architecture is trained from its seeded initialisation (seed 0, as every stored value) for 64 AdamW steps of
8 x 64 tokens of the English text (``discover.probing.steps``), recording its losses, gradients and weight changes
after 1, 4, 16 and 64 steps. The full LTS spaces are beyond two cores at 64 steps (1-7 s a step for their larger
models: hours per space), so each space gets a seeded subset spread evenly over non-embedding size
(``stratified_subset``; the sizes below): the stored file names the architectures it holds. Every run is kept as
it finishes (a stopped run continues where it stopped). Writes ``data/values/steps/<benchmark>-<builder>.csv.gz``
with its JSON (settings, corpus and tokenizer digests, wall time per architecture and step count, commit). With
``--per-layer --data-after`` the file replaces the default one (it answers the default request too) and keeps that
one's timing of the default columns as ``seconds_per_arch_default``.
"""
from __future__ import annotations

import argparse
import logging
import time

from discover import load_benchmark
from discover.features import structure_table
from discover.probing.step_values import (request, request_difference, step_table, stored_ids, stored_path,
                                          stratified_subset, write_step_values)
from discover.probing.steps import STEP_COUNTS, StepSettings
from discover.values import provenance
from report import code_commit

# space -> architectures trained (all of them where the space is small or cheap)
SUBSETS = {"hf:examples/tiny-lm": 36, "nas-bench-bert": 100, "lts-txl-wt103-homogeneous": 50, "lts-gpt2-wt103": 50,
           "lts-txl-wt103": 50}
SUBSET_SEED = 0
# The LTS models take 0.4-7 s a step on one core: their runs stop at 16 steps (the values after 1, 4 and 16 steps do
# not depend on how far training goes on), so that the three spaces fit in about an hour on two cores.
STEPS = {"lts-gpt2-wt103": (1, 4, 16), "lts-txl-wt103": (1, 4, 16), "lts-txl-wt103-homogeneous": (1, 4, 16)}


def subset(bench, n: int) -> list[str]:
    """The seeded size-stratified subset of ``n`` architectures of ``bench`` the stored values hold."""
    sizes = structure_table(bench).set_index("arch_id")["params_nonembedding"]
    return stratified_subset(sizes, n, SUBSET_SEED)


def stored_failures(path) -> int:
    """How many architectures of a stored file failed (0 where there is no file)."""
    if not path.is_file():
        return 0
    from discover.values import read_values
    values = read_values([path])
    return int(values.loc[values["failure"].notna(), "arch_id"].nunique())


def default_timing(bench, builder: str, settings: StepSettings) -> dict:
    """What the default columns alone cost, where the stored file this run replaces measured them: its seconds per
    architecture (the new run's include the per-layer and data measurements, so they would overstate it)."""
    path = stored_path(bench.name, builder)
    if not path.is_file() or not (settings.per_layer or settings.data_after):
        return {}
    old = provenance(path)
    if "seconds_per_arch_default" in old:   # carried over already
        return {k: old[k] for k in ("seconds_per_arch_default", "default_timing_measured")}
    plain = StepSettings(steps=settings.steps, batch=settings.batch, seq=settings.seq, lr=settings.lr,
                         seed=settings.seed, heldout_windows=settings.heldout_windows)
    if request_difference(old, request(bench, builder, 0, plain)) is not None:
        return {}
    return {"seconds_per_arch_default": old["seconds_per_arch"],
            "default_timing_measured": {"commit": old.get("commit"), "date": old.get("date"), "n": old.get("n")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=list(SUBSETS), help="spaces (default: all five)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--steps", type=int, nargs="+", help="step counts recorded (default: 1 4 16 64, and 1 4 16 for "
                        "the LTS spaces)")
    parser.add_argument("--per-layer", action="store_true", help="also the gradients through depth (first, last, "
                        "last/first per role)")
    parser.add_argument("--data-after", action="store_true", help="also the data probe's statistics of each trained "
                        "model (a probe pass per step count: 1-9 s more per architecture and count)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in args.only:
        settings = StepSettings(steps=tuple(args.steps or STEPS.get(name, STEP_COUNTS)), per_layer=args.per_layer,
                                data_after=args.data_after).validate()
        bench = load_benchmark(name)
        ids = subset(bench, SUBSETS[name])
        builder = bench.family.builder(None)
        # A stored file that already answers the request stays as it is: rewriting it would replace the wall time
        # that measured the runs with the few milliseconds of reading them back.
        failed = stored_failures(stored_path(bench.name, builder))
        if set(ids) <= set(stored_ids(bench, builder, 0, settings) or ()) and not failed:
            logging.info("%s: the stored values already hold these %d architectures -> %s", name, len(ids),
                         stored_path(bench.name, builder))
            continue
        carried = default_timing(bench, builder, settings)
        start = time.perf_counter()
        # a stored file with failed runs is not read: those are trained again (the others come from the cache)
        table = step_table(bench, ids, settings, n_jobs=args.jobs, use_stored=not failed)
        path = stored_path(bench.name, builder)
        meta = write_step_values(bench, table, path, builder, 0, settings, commit=code_commit(), jobs=args.jobs,
                                 subset_seed=SUBSET_SEED, wall_seconds_this_run=round(time.perf_counter() - start, 1),
                                 **carried)
        logging.info("%s: %d architectures, %s s per architecture to %s steps -> %s", name, meta["n"],
                     "/".join(f"{v:.1f}" for v in meta["seconds_per_arch"].values()),
                     "/".join(map(str, settings.steps)), path)


if __name__ == "__main__":
    main()
