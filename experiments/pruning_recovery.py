"""Does a pruned sub-network's loss as it is predict its loss after a short recovery fine-tune?

    python experiments/pruning_recovery.py [--models llama-8 ...] [--kinds depth heads ffn] [--wait]

For each stored pruning space of each reference model: fine-tune a seeded subset of its candidates
(``discover.pruning.recovery``: LoRA on every block's linear layers, the same seeded batches for every candidate),
store the table beside the space, and print, over that subset, the equal-size Kendall with the *recovered* loss of
the loss before recovery and of every published criterion - so we learn whether ranking before recovery predicts
after. Resumable; a stored table whose provenance matches is kept. The written table also holds every other stored
recovery that still matches its model and space, so a run for one model keeps the others' rows.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from discover.benchmarks.pruning.models import models_dir, wait_for_model
from discover.benchmarks.pruning.reference import REFERENCE_MODELS
from discover.benchmarks.pruning.space import KINDS
from discover.errors import DataError
from discover.pruning.criteria import criteria_for
from discover.pruning.recovery import compute_recovery, read_recovery, recovery_request
from discover.pruning.space_values import read_space
from discover.pruning.table import ARMS, equal_size_kendall, space_table
from discover.runs import load_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import pruning_arguments, write_table  # noqa: E402

STUDY_RUNS = Path("results/pruning/lomo")   # pruning_study.py's leave-one-model-out run folders
CAPTION = ("Recovery after pruning: a seeded 50 candidates of each stored space, each fine-tuned with LoRA (rank 8, "
           "alpha 16, every linear layer of its blocks, 40 steps of 8 x 128 train tokens at lr 1e-3, the same seeded "
           "batches and adapter seed for every candidate, merged back), then its loss on the space's 48 held-out "
           "windows (nats per token). Kendall: equal-size Kendall with minus the recovered loss, over those 50, of "
           "the loss before recovery and of every criterion of the kind (pairs of candidates that remove as many "
           "units; a mixed space's are all one size). Discovered (arm, LOMO): the formulas pruning_study.py searched on "
           "the other models' spaces (its run folders in results/pruning/lomo, mean over its seeds), scored unchanged "
           "on this model's recovered candidates.")


def recovery_kendalls(model: str, kind: str, studied: Path = STUDY_RUNS) -> dict[str, float]:
    """Equal-size Kendall with the recovered loss, over the recovered subset: the loss before recovery, every
    criterion of ``kind`` (higher score: lower loss, so each is scored against minus the loss) and, where the study's
    leave-one-model-out runs are in ``studied``, their formulas (searched without this model; mean over seeds)."""
    table, _ = read_recovery(model, kind)
    candidates, units, _ = read_space(model, kind)
    # the recovered candidates, in the table's order (a merge: indexing by id and back fragments a wide frame)
    subset = table[["arch_id"]].merge(candidates, on="arch_id", how="left", validate="one_to_one")
    target = -table["recovered_loss"].to_numpy(float)
    removed = subset["removed"].to_numpy()
    out = {"loss before recovery": equal_size_kendall(-subset["heldout_loss"].to_numpy(float), target, removed)}
    for criterion in criteria_for(kind):
        out[criterion.name] = equal_size_kendall(criterion.score(subset, units, kind), target, removed)
    for arm in ARMS:
        runs = sorted(studied.glob(f"{model}-{kind}-{arm}-*"))
        if runs:
            features = space_table(subset, units, kind, arm)
            taus = [equal_size_kendall(load_run(run).formula.evaluate(features), target, removed) for run in runs]
            out[f"discovered ({arm}, LOMO)"] = float(np.mean(taus))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pruning_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = []
    for name in args.models:
        folder = models_dir() / name
        if args.wait:
            wait_for_model(folder)
        for kind in args.kinds:
            try:
                read_recovery(name, kind, expected=recovery_request(folder, kind))
                logging.info("%s %s: stored recovery kept", name, kind)
            except DataError as why:
                logging.info("%s %s: recovering (%s)", name, kind, str(why)[:120])
                _, provenance = compute_recovery(folder, kind, threads=args.threads)
                logging.info("%s %s: %d candidates in %.0f s", name, kind, provenance["candidates"],
                             provenance["wall_seconds"])
            figures = recovery_kendalls(name, kind)
            print(f"{name} {kind}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)
            rows.append(summary_row(name, kind, figures))
    rows += stored_rows(set(args.models), set(args.kinds))
    if rows:
        table = pd.DataFrame(rows).sort_values(["model", "kind"], key=_reference_order, kind="mergesort")
        write_table("pruning-recovery", CAPTION + "\n\n" + table.to_markdown(index=False, floatfmt=".3f"),
                    "experiments/pruning_recovery.py " + " ".join(f"--{k} {' '.join(v)}" for k, v in
                                                                 (("models", args.models), ("kinds", args.kinds))))
    return 0


def stored_rows(models: set[str], kinds: set[str]) -> list[dict]:
    """Rows of the recoveries stored for the models and kinds this run did not ask for, where they still match
    their model and space: the table always holds every recovery measured, not only this run's."""
    rows = []
    for name in REFERENCE_MODELS:
        folder = models_dir() / name
        for kind in KINDS:
            if (name in models and kind in kinds) or not folder.is_dir():
                continue
            try:
                read_recovery(name, kind, expected=recovery_request(folder, kind))
            except DataError:
                continue
            rows.append(summary_row(name, kind, recovery_kendalls(name, kind)))
    return rows


def _reference_order(column: pd.Series) -> pd.Series:
    order = {n: i for i, n in enumerate([*REFERENCE_MODELS, *KINDS])}
    return column.map(order)


def summary_row(model: str, kind: str, figures: dict[str, float]) -> dict:
    """One table row: the losses before and after recovery, its cost, and every Kendall of ``figures``."""
    table, provenance = read_recovery(model, kind)
    criteria = {k: v for k, v in figures.items() if k != "loss before recovery" and not k.startswith("discovered")}
    best = max(criteria, key=lambda k: criteria[k] if criteria[k] == criteria[k] else -9) if criteria else None
    return {"model": model, "kind": kind, "n": len(table), "full model": provenance["full_heldout_loss"],
            "mean loss before": table["heldout_loss"].mean(), "mean loss after": table["recovered_loss"].mean(),
            "s per candidate": provenance["candidate_seconds"],
            "Kendall: loss before": figures["loss before recovery"],
            "best criterion": f"{best} {criteria[best]:.3f}" if best else "n/a",
            **{f"Kendall: {k}": v for k, v in figures.items() if k != "loss before recovery"}}


if __name__ == "__main__":
    raise SystemExit(main())
