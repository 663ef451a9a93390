"""Evidence that NAS-Bench-BERT's scores come from models whose operation types were ignored.

The TensorFlow training code selected each layer's operation with ``operation_type is "SA"`` - an identity test that is
false for strings parsed from JSON - so every layer trained as plain multi-head self-attention. If so, the operation
labels carry no information about the GLUE score beyond the other fields. This script fits a gradient-boosted
regressor on the architecture fields with 5-fold cross-validation (repeated over seeds), without and with the
operation labels, and prints the held-out Kendall tau of each.

    python experiments/as_trained_evidence.py      (needs scikit-learn: pip install scikit-learn)
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import kendalltau
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.model_selection import KFold

from discover import load_benchmark

OPS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]


def fields(config, with_ops: bool) -> list[float]:
    row = [config["hidden_size"], len(config["layers"])]
    for i in range(4):  # the space has 2 or 4 layers; absent ones are zeros
        layer = config["layers"][i] if i < len(config["layers"]) else None
        row += [layer["num_operation_heads"], layer["feed_forward_dimension"], layer["num_feed_forward"]] if layer \
            else [0, 0, 0]
        if with_ops:
            op = (layer["operation_type"], layer["operation_parameter"]) if layer else None
            row += [float(op == o) for o in OPS]
    return row


def held_out_kendall(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    predictions = np.empty_like(y)
    for train, test in KFold(5, shuffle=True, random_state=seed).split(x):
        model = GradientBoostingRegressor(random_state=seed).fit(x[train], y[train])
        predictions[test] = model.predict(x[test])
    return kendalltau(predictions, y).statistic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="cross-validation shuffles")
    args = parser.parse_args()
    bench = load_benchmark("nas-bench-bert")
    y = np.array([a.target for a in bench.archs])
    for with_ops in (False, True):
        x = np.array([fields(a.config, with_ops) for a in bench.archs], dtype=float)
        taus = [held_out_kendall(x, y, seed) for seed in range(args.seeds)]
        label = "with operation types   " if with_ops else "without operation types"
        print(f"{label}: 5-fold held-out Kendall {np.mean(taus):.3f} +- {np.std(taus):.3f} ({args.seeds} seeds)")


if __name__ == "__main__":
    main()
