"""How long do the zero-cost features of a reference model's whole pruning space take (weights only)?

    python experiments/pruning_zero_cost.py [--models llama-8 gpt2-8 llama-12] [--kinds depth heads ffn mixed]

For every candidate of a stored space: the surgery that makes the sub-network and its weight features
(``features.table.featurize_model``), no forward pass - what a zero-cost method pays before it can rank the space.
A memo keyed by each matrix's bytes measures a matrix the candidates share with their model (every untouched block)
by one SVD, once per space; the first space is also timed without it, as the stored spaces were measured. Each run
checks its features against the stored ones (the same columns, the same values), so the time is of the same work.
Issue #27's goal: <= 60 s per space on two cores. Writes docs/tables/pruning-zero-cost.md.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.pruning.calibration import head_count
from discover.pruning.space_values import candidate_features, read_space, request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import pruning_arguments, write_table  # noqa: E402

GOAL_SECONDS = 60


def time_space(model, ids: list[str], n_heads: int, memo: dict | None) -> tuple[float, pd.DataFrame]:
    """Seconds to make and featurize every candidate, and the features (one row per candidate)."""
    started, rows = time.perf_counter(), []
    for arch_id in ids:
        rows.append({"arch_id": arch_id, **candidate_features(model, arch_id, n_heads, memo)[1]})
    return time.perf_counter() - started, pd.DataFrame(rows)


def largest_difference(measured: pd.DataFrame, stored: pd.DataFrame) -> float:
    """The largest relative difference between the features measured here and the stored space's."""
    columns = [c for c in measured.columns if c != "arch_id" and c in stored.columns]
    a = measured.set_index("arch_id").loc[stored["arch_id"], columns].to_numpy(float)
    b = stored[columns].to_numpy(float)
    both = np.isfinite(a) & np.isfinite(b)
    if (np.isfinite(a) != np.isfinite(b)).any():
        return float("inf")
    return float(np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-12), initial=0.0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pruning_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads or 2)
    rows, baseline_done = [], False
    for name in args.models:
        folder = models_dir() / name
        model, _ = trained.load_model(folder, task="causal-lm")
        n_heads = head_count(model)
        for kind in args.kinds:
            candidates, _, _ = read_space(name, kind, expected=request(folder, kind))
            ids = list(candidates["arch_id"])
            row = {"model": name, "kind": kind, "candidates": len(ids)}
            if not baseline_done:
                seconds, _ = time_space(model, ids, n_heads, None)
                row["without the memo (s)"] = round(seconds, 1)
                baseline_done = True
            memo: dict = {}
            seconds, measured = time_space(model, ids, n_heads, memo)
            row.update({"whole space (s)": round(seconds, 1), "per candidate (s)": round(seconds / len(ids), 3),
                        "distinct matrices": len(memo), f"<= {GOAL_SECONDS} s": seconds <= GOAL_SECONDS,
                        "largest difference from stored": f"{largest_difference(measured, candidates):.1e}"})
            logging.info("%s %s: %s", name, kind, row)
            rows.append(row)
    table = pd.DataFrame(rows)
    columns = ["model", "kind", "candidates", "without the memo (s)", "whole space (s)", "per candidate (s)",
               "distinct matrices", f"<= {GOAL_SECONDS} s", "largest difference from stored"]
    table = table[[c for c in columns if c in table]]
    print(table.to_markdown(index=False))
    write_table("pruning-zero-cost", "Zero-cost features of a whole stored pruning space: surgery and weight features "
                "of every candidate, no forward pass, on this machine's two cores.\n\n" +
                table.to_markdown(index=False, floatfmt=".3g"),
                "experiments/pruning_zero_cost.py " + " ".join(f"--{k} {' '.join(v)}" for k, v in
                                                             (("models", args.models), ("kinds", args.kinds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
