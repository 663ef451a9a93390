"""Why the few-step signals buy so little: each signal alone against the size count, on the same rows (issue #28).

    python experiments/step_columns.py [--jobs 2]

For every space with stored few-step values (``experiments/step_values.py``), on those rows: the Kendall tau with
trained quality and the size-matched Kendall (pairs within 10% non-embedding size) of the non-embedding parameter
count, of the held-out and training loss after k steps (lower loss read as better), of the loss drop, and of the
best single few-step column after k steps chosen on these very rows by |Kendall| (a ceiling no method may reach:
it is chosen on the labels that judge it; its sign is shown). No search, no folds: a diagnostic of what the columns
the search may read carry; where the stored values hold the details (``step_values.py --per-layer --data-after``),
the best of those columns too. Writes docs/tables/steps-columns.md.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from discover import load_benchmark
from discover.api import search_table
from discover.metrics import rank_quality
from report import write_table
from discover.probing.steps import settings_for_columns
from step_study import DETAILS, SPACES, stored_steps


def quality(scores: np.ndarray, target: np.ndarray, size: np.ndarray) -> tuple[float, float]:
    """(Kendall, size-matched Kendall) of ``scores`` with ``target``."""
    finite = np.isfinite(scores)
    if finite.sum() < 3 or np.ptp(scores[finite]) == 0:
        return math.nan, math.nan
    result = rank_quality(scores[finite], target[finite], size=size[finite])
    return result.kendall, result.kendall_size_matched


def cell(pair: tuple[float, float]) -> str:
    """``Kendall / size-matched``; a dash where the column is constant (the loss drop over one step is 0)."""
    return "-" if not math.isfinite(pair[0]) else f"{pair[0]:.3f} / {pair[1]:.3f}"


def best_column(columns: list[str], table, target: np.ndarray, size: np.ndarray, k: int) -> str:
    """The column of ``columns`` with the largest |Kendall| on these rows, as ``Kendall / size-matched (`name`)``."""
    scored = []
    for column in columns:
        tau, matched = quality(table[column].to_numpy(float), target, size)
        if math.isfinite(tau):
            scored.append((abs(tau), column, tau, matched))
    _, column, tau, matched = max(scored, key=lambda item: (item[0], item[1]))
    sign = "" if tau >= 0 else "-"
    return f"{abs(tau):.3f} / {matched if tau >= 0 else -matched:.3f} (`{sign}{column[len(f'steps{k}_'):]}`)"


def space_rows(name: str, jobs: int) -> list[str]:
    bench = load_benchmark(name)
    stored = stored_steps(bench)
    steps, ids = stored.steps, stored.ids
    tables = {}
    for k in steps:   # the search's table with the columns after k steps (one k a table), on the stored rows
        table = search_table(bench, None, 0, jobs, with_steps=k, step_settings=DETAILS if stored.details else None)
        tables[k] = table[table["arch_id"].astype(str).isin(set(ids))].reset_index(drop=True)
        assert tables[k]["arch_id"].tolist() == tables[steps[0]]["arch_id"].tolist()
    table = tables[steps[0]]
    target = table["target"].to_numpy(float)
    size = table["params_nonembedding"].to_numpy(float)
    label = f"{SPACES[name]} ({len(table)})"
    count = quality(size, target, size)
    rows = {"non-embedding #params": [cell(count)] * len(steps), "held-out loss after k steps (lower is better)": [],
            "training loss after k steps (lower is better)": [], "loss drop over k steps": [],
            "best few-step column, chosen on these rows (ceiling)": []}
    if stored.details:
        rows["best detail column (gradients through depth, data after the steps), chosen on these rows"] = []
    for k in steps:
        table = tables[k]
        rows["held-out loss after k steps (lower is better)"].append(
            cell(quality(-table[f"steps{k}_heldout_loss"].to_numpy(float), target, size)))
        rows["training loss after k steps (lower is better)"].append(
            cell(quality(-table[f"steps{k}_train_loss"].to_numpy(float), target, size)))
        rows["loss drop over k steps"].append(cell(quality(table[f"steps{k}_loss_drop"].to_numpy(float), target,
                                                           size)))
        columns = [c for c in table.columns if c.startswith(f"steps{k}_") and not c.endswith("_seconds")]
        detail = [c for c in columns if any(settings_for_columns([c]).values())]
        rows["best few-step column, chosen on these rows (ceiling)"].append(
            best_column([c for c in columns if c not in detail], table, target, size, k))
        if stored.details:
            rows["best detail column (gradients through depth, data after the steps), chosen on these rows"].append(
                best_column(detail, table, target, size, k))
    header = f"| {label} | " + " | ".join(f"k = {k}" for k in steps) + " |"
    return [header, "|---|" + "---|" * len(steps)] + [f"| {row} | " + " | ".join(cells) + " |"
                                                      for row, cells in rows.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", nargs="+", default=list(SPACES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    blocks = ["\n".join(space_rows(name, args.jobs)) for name in args.spaces]
    text = ("Each few-step signal alone on the rows with stored values: Kendall / size-matched Kendall with trained "
            "quality (pairs within 10% non-embedding size). The last row of each space picks, for each k, the column "
            "with the largest |Kendall| on these rows - a ceiling chosen on the labels that judge it (a leading "
            "minus: the column read with its sign flipped).\n\n" + "\n\n".join(blocks) + "\n")
    print(text)
    if not args.no_docs:
        write_table("steps-columns", text, "experiments/step_columns.py",
                    "Models initialised with seed 0; the stored few-step values (data/values/steps).")


if __name__ == "__main__":
    main()
