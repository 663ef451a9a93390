"""The pruning study: rank the sub-networks of trained language models, from the stored spaces alone.

    python experiments/pruning_study.py [--seeds 0 1 2] [-o results/pruning]

For every reference model and pruning kind stored under data/values/pruning (experiments/pruning_values.py):
the equal-size Kendall (``kendall_size_matched``: pairs of candidates of the same size) of every published criterion,
of ZeroLM and NSC on the sub-network's weights, and of the discovered formula (5-fold held out, over the weights
arm and the weights + calibration arm); leave-one-model-out (one formula searched on two models' spaces, scored
unchanged on the third, against the best criterion there, with a paired-bootstrap interval); what each method costs;
and, for depth, the held-out loss of the sub-network each method would ship at 25% and 50% of the blocks removed
(for a mixed space: at its weight budget, among all its candidates).
Writes docs/tables/pruning-*.md. Needs no model and no text: everything is read from the stored values.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from discover.errors import DataError
from discover.metrics import table_quality
from discover.pruning.compare import baseline_scores
from discover.pruning.criteria import criteria_for
from discover.pruning.space_values import read_space
from discover.pruning.table import ARMS, equal_size_difference, space_table
from discover.search.driver import search_tables
from discover.search.loop import SearchConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_table  # noqa: E402

MODELS = ("llama-8", "gpt2-8", "llama-12")
KINDS = ("depth", "heads", "ffn", "mixed")
WEIGHT_PROXIES = ("zerolm", "nsc")


def load(kinds, models):
    spaces = {}
    for kind in kinds:
        for model in models:
            try:
                candidates, units, provenance = read_space(model, kind)
            except DataError as why:
                logging.warning("%s %s: not stored (%s)", model, kind, str(why)[:100])
                continue
            spaces[(model, kind)] = (candidates, units, provenance)
    return spaces


def method_scores(candidates, units, kind) -> dict[str, np.ndarray]:
    """Every baseline's scores on one space (``pruning.compare.baseline_scores``), less the count, which is constant
    among equal-size candidates."""
    return {name: v for name, v in baseline_scores(candidates, units, kind).items() if name != "params"}


def quality(scores, table) -> float:
    return table_quality(scores, table).kendall_size_matched


def fmt(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("-o", "--output", default="results/pruning")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("discover").setLevel(logging.WARNING)
    started = time.perf_counter()
    spaces = load(args.kinds, args.models)
    if not spaces:
        raise SystemExit("no stored pruning space; run experiments/pruning_values.py first")
    out = Path(args.output)
    within_rows, lomo_rows, cost_rows, ship_rows = [], [], [], []
    for kind in args.kinds:
        models = [m for m in args.models if (m, kind) in spaces]
        tables = {arm: {m: space_table(*spaces[(m, kind)][:2], kind, arm) for m in models} for arm in ARMS}
        baselines = {m: method_scores(*spaces[(m, kind)][:2], kind) for m in models}
        # --- within each model: 5-fold held out, mean over search seeds ---------------------------------------
        for m in models:
            table = tables["weights"][m]
            row = {"kind": kind, "model": m, "n": len(table)}
            for name, scores in baselines[m].items():
                row[name] = quality(scores, table)
            for arm in ARMS:
                figures = []
                for seed in args.seeds:
                    run = search_tables({m: tables[arm][m]}, out / "within" / f"{m}-{kind}-{arm}-{seed}",
                                        SearchConfig(seed=seed, fitness="iso"), folds=5, force=True,
                                        progress=False, n_jobs=args.jobs)
                    figures.append(run.metrics["heldout"][m]["kendall_size_matched"])
                row[f"discovered ({arm})"] = float(np.mean(figures))
            within_rows.append(row)
        # --- leave one model out --------------------------------------------------------------------------------
        for held in models:
            rest = [m for m in models if m != held]
            if len(rest) < 1:
                continue
            target_table = tables["weights"][held]
            removed = spaces[(held, kind)][0]["removed"].to_numpy()
            best_name = max(baselines[held], key=lambda n: np.nan_to_num(quality(baselines[held][n],
                                                                                 target_table), nan=-9))
            best = baselines[held][best_name]
            fixed = [c.name for c in criteria_for(kind) if "per candidate" not in c.cost] + list(WEIGHT_PROXIES)
            fixed_name = max(fixed, key=lambda n: np.nan_to_num(quality(baselines[held][n], target_table), nan=-9))
            row = {"kind": kind, "held-out model": held, "searched on": " + ".join(rest),
                   "best criterion": f"{best_name} {fmt(quality(best, target_table))}",
                   "best fixed-cost criterion": f"{fixed_name} {fmt(quality(baselines[held][fixed_name], target_table))}"}
            for arm in ARMS:
                scores, formulas = [], []
                for seed in args.seeds:
                    run = search_tables({m: tables[arm][m] for m in rest},
                                        out / "lomo" / f"{held}-{kind}-{arm}-{seed}",
                                        SearchConfig(seed=seed, fitness="iso"), folds=1, force=True, progress=False,
                                        n_jobs=args.jobs)
                    values = run.formula.evaluate(tables[arm][held])
                    scores.append(values)
                    formulas.append(str(run.formula))
                taus = [quality(s, target_table) for s in scores]
                diff = equal_size_difference(np.mean([_ranks(s) for s in scores], axis=0), best,
                                             target_table["target"], removed)
                versus_fixed = equal_size_difference(np.mean([_ranks(s) for s in scores], axis=0),
                                                     baselines[held][fixed_name], target_table["target"], removed)
                row[f"discovered ({arm})"] = (f"{fmt(np.mean(taus))} ({diff['difference']:+.3f} "
                                              f"[{diff['low']:+.3f}, {diff['high']:+.3f}]; vs fixed-cost "
                                              f"{versus_fixed['difference']:+.3f} [{versus_fixed['low']:+.3f}, "
                                              f"{versus_fixed['high']:+.3f}])")
                row[f"formula ({arm}, seed {args.seeds[0]})"] = f"`{formulas[0]}`"
                if kind in ("depth", "mixed"):
                    ship_scores = np.mean([_ranks(s) for s in scores], axis=0)
                    baselines[held][f"discovered ({arm})"] = ship_scores
            lomo_rows.append(row)
        # --- cost and the sub-network each method ships -----------------------------------------------------------
        for m in models:
            candidates, units, provenance = spaces[(m, kind)]
            per_candidate_loss = float(candidates["loss_seconds"].mean()) / 2   # held-out + calibration passes
            features = float((candidates["seconds"] - candidates["loss_seconds"]).mean())
            cost_rows.append({"kind": kind, "model": m, "candidates": len(candidates),
                              "unit statistics, per model (s)": provenance["unit_seconds"],
                              "calibration loss, per candidate (s)": round(per_candidate_loss, 3),
                              "weight features, per candidate (s)": round(features, 3)})
            if kind not in ("depth", "mixed"):
                continue
            n_layers = int(units["block"].max()) + 1
            target = candidates["heldout_loss"].to_numpy()
            removed = candidates["removed"].to_numpy()
            choices = ((f"{removed[0]}% of the blocks' weights (mixed)", np.arange(len(candidates))),) \
                if kind == "mixed" else \
                tuple((f"{share} ({count} of {n_layers} blocks)", np.flatnonzero(removed == count))
                      for share, count in (("25%", max(1, round(n_layers / 4))), ("50%", n_layers // 2)))
            for label, rows in choices:
                if not len(rows):
                    continue
                row = {"model": m, "removed": label,
                       "full model": f"{provenance['full_heldout_loss']:.3f}",
                       "best candidate (oracle)": f"{target[rows].min():.3f}",
                       "median candidate": f"{np.median(target[rows]):.3f}"}
                for name, scores in baselines[m].items():
                    if name in WEIGHT_PROXIES:
                        continue
                    pick = rows[np.argmax(np.nan_to_num(np.asarray(scores, float)[rows], nan=-np.inf))]
                    row[name] = f"{target[pick]:.3f} ({candidates['arch_id'].iloc[pick]})"
                ship_rows.append(row)
    seconds = time.perf_counter() - started
    extra = f"Search seeds {' '.join(map(str, args.seeds))}, population 200, 25 generations, fitness iso; " \
            f"whole study {seconds / 60:.1f} min."
    caption_within = ("Equal-size Kendall (pairs of candidates of the same size) with held-out loss, within each "
                      "reference model's pruning space; discovered: 5-fold held out, mean over search seeds.")
    write_table("pruning-within", caption_within + "\n\n" + pd.DataFrame(within_rows).to_markdown(
        index=False, floatfmt=".3f"), "experiments/pruning_study.py", extra)
    caption_lomo = ("Leave one model out: one formula searched on the other models' spaces, scored unchanged on the "
                    "held-out model (mean over search seeds; in brackets the difference in equal-size Kendall of the "
                    "seeds' mean rank against the best criterion on that model, then against the best criterion "
                    "whose cost does not grow with the candidates, each with a 95% paired-bootstrap interval).")
    write_table("pruning-lomo", caption_lomo + "\n\n" + pd.DataFrame(lomo_rows).to_markdown(index=False),
                "experiments/pruning_study.py", extra)
    write_table("pruning-cost", "Measured cost, seconds on this machine.\n\n" +
                pd.DataFrame(cost_rows).to_markdown(index=False), "experiments/pruning_study.py", extra)
    if ship_rows:
        write_table("pruning-ship", "Depth and mixed pruning: held-out loss of the sub-network each method would "
                    "ship at a removal count (the best-scoring candidate of the space; discovered: the "
                    "leave-one-model-out formula, mean rank over seeds, where another model has the space).\n\n" +
                    pd.DataFrame(ship_rows).to_markdown(index=False),
                    "experiments/pruning_study.py", extra)
    print(pd.DataFrame(within_rows).to_string())
    print(pd.DataFrame(lomo_rows).to_string())
    print(f"whole study {seconds:.0f} s")
    return 0


def _ranks(values) -> np.ndarray:
    from scipy.stats import rankdata
    values = np.nan_to_num(np.asarray(values, float), nan=-np.inf)
    return rankdata(values)


if __name__ == "__main__":
    raise SystemExit(main())
