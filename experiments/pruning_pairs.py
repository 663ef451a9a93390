"""Do the removal losses of *pairs* of blocks rank depth candidates as SLEB does, at a cost fixed per model?

    python experiments/pruning_pairs.py [--models llama-8 gpt2-8 llama-12]

The study's finding is that no sum over units of a per-unit statistic reaches SLEB on depth, because removing two
blocks is not the sum of removing each. This measures the next step: the calibration loss with every single block
and every pair of blocks removed (L + L(L-1)/2 forward passes of the calibration batch per model, however many
candidates there are), and a candidate's second-order estimate of its calibration loss,

    L(S) ~ L0 + sum_i d_i + sum_{i<j in S} (d_ij - d_i - d_j),     d_i = L({i}) - L0,  d_ij = L({i, j}) - L0,

against SLEB (the candidate's own calibration loss: one pass per candidate) and Shortened LLaMA's PPL (the first-order
sum, what the study's discovered formula finds). Removing one or two blocks, the estimate *is* the candidate's own
calibration loss, so the comparison that can say no is over the candidates that remove three or more blocks; it is
reported separately, with a paired-bootstrap interval of the difference from SLEB. Writes
docs/tables/pruning-pairs.md.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from discover.benchmarks import trained
from discover.benchmarks.pruning.evaluate import mean_loss
from discover.benchmarks.pruning.models import models_dir
from discover.benchmarks.pruning.space import blocks_of, make_id, parse_id, subnetwork
from discover.pruning.calibration import head_count
from discover.pruning.model_text import model_text
from discover.pruning.space_values import read_space, request
from discover.pruning.table import equal_size_difference, equal_size_kendall

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import pruning_arguments, write_table  # noqa: E402


def pair_losses(model, batch: torch.Tensor) -> tuple[float, dict[tuple[int, ...], float]]:
    """The calibration loss of the full model and with every block and every pair of blocks removed."""
    n, n_heads = len(blocks_of(model)), head_count(model)
    removed = [(b,) for b in range(n)] + list(itertools.combinations(range(n), 2))
    return mean_loss(model, batch), {units: mean_loss(subnetwork(model, make_id("depth", units), n_heads), batch)
                                     for units in removed}


def second_order(blocks: tuple[int, ...], full: float, losses: dict[tuple[int, ...], float]) -> float:
    """The estimate of the calibration loss with ``blocks`` removed, from single and pair removal losses."""
    single = {b: losses[(b,)] - full for b in blocks}
    pairs = sum(losses[(a, b)] - full - single[a] - single[b] for a, b in itertools.combinations(sorted(blocks), 2))
    return full + sum(single.values()) + pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pruning_arguments(parser)
    args = parser.parse_args(argv)
    if "depth" not in args.kinds:
        parser.error("pairs of units are measured for depth pruning only (--kinds depth)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads or 2)
    rows = []
    for name in args.models:
        folder = models_dir() / name
        text = model_text(folder)
        candidates, _, _ = read_space(name, "depth", expected=request(text, "depth"))
        model, _ = trained.load_model(folder, task="causal-lm")
        started = time.perf_counter()
        full, losses = pair_losses(model, text.calibration_windows())
        seconds = time.perf_counter() - started
        blocks = [parse_id(i)[1] for i in candidates["arch_id"]]
        # where the estimate is the candidate's own loss, it must equal the stored one: the same passes, measured
        own = np.array([len(b) <= 2 for b in blocks])
        drift = float(np.max(np.abs(np.array([losses[tuple(b)] for b, o in zip(blocks, own) if o]) -
                                    candidates["calibration_loss"].to_numpy()[own])))
        scores = {"SLEB (own calibration loss)": -candidates["calibration_loss"].to_numpy(float),
                  "Shortened LLaMA PPL (first order)": -np.array([full + sum(losses[(b,)] - full for b in s)
                                                                  for s in blocks]),
                  "pairs (second order)": -np.array([second_order(tuple(s), full, losses) for s in blocks])}
        target = -candidates["heldout_loss"].to_numpy(float)
        removed = candidates["removed"].to_numpy()
        deep = removed >= 3
        row = {"model": name, "blocks": len(blocks_of(model)), "candidates": len(candidates),
               "of them >= 3 removed": int(deep.sum()), "pair passes": len(losses),
               "pair passes (s)": round(seconds, 1), "SLEB passes": len(candidates),
               "stored vs here (nats)": f"{drift:.1e}"}
        for label, score in scores.items():
            row[f"{label}: all"] = equal_size_kendall(score, target, removed)
            row[f"{label}: >= 3 removed"] = equal_size_kendall(score[deep], target[deep], removed[deep])
        diff = equal_size_difference(scores["pairs (second order)"][deep], scores["SLEB (own calibration loss)"][deep],
                                     target[deep], removed[deep])
        row["pairs - SLEB, >= 3 removed [95%]"] = f"{diff['difference']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]"
        first = equal_size_difference(scores["pairs (second order)"][deep],
                                      scores["Shortened LLaMA PPL (first order)"][deep], target[deep], removed[deep])
        row["pairs - PPL, >= 3 removed [95%]"] = f"{first['difference']:+.3f} [{first['low']:+.3f}, {first['high']:+.3f}]"
        logging.info("%s: %s", name, row)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model").T
    print(table.to_string())
    write_table("pruning-pairs", "Depth pruning: ranking by the removal losses of pairs of blocks (a second-order "
                "estimate of each candidate's calibration loss, L + L(L-1)/2 passes per model) against SLEB (one pass "
                "per candidate) and Shortened LLaMA's PPL (first order, L passes). Equal-size Kendall with the "
                "held-out loss; '>= 3 removed' is over the candidates where the estimate is not the candidate's own "
                "loss.\n\n" + table.to_markdown(floatfmt=".3f"),
                "experiments/pruning_pairs.py --models " + " ".join(args.models))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
