"""A whole search on feature tables: stages (folds and final) run and resumed, the run folder written.

``search_tables`` is what ``ProxySearch.fit`` and ``zc-discover search`` call once the tables are in hand.
"""
from __future__ import annotations

import logging
import math
import os
import platform
import time
from dataclasses import asdict
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy

from .. import runs, schemas
from ..version import code_version
from ..errors import DataError, ZcDiscoverError
from ..export import export_meta, render
from ..formula import Formula
from ..metrics import table_quality
from ..parallel import active_engine, parallel_imap
from ..plots import run_figures
from .gp import TreeEvaluator, TreeSyntaxError, make_pset, parse_tree, tree_to_sympy
from .loop import SearchConfig, StageResult, run_stage, stage_seeds
from .plan import plan_stages, search_features

log = logging.getLogger(__name__)
HELD_OUT_KEYS = ("spearman", "kendall", "kendall_size_matched", "partial_spearman", "kendall_iso_params",
                 "top10_precision")
SESSIONS = "sessions.json"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "code": code_version()}
    for name in ("zc-discover", "torch", "deap", "numpy", "scipy", "sympy", "pandas", "joblib"):
        try:
            out[name] = package_version(name)
        except Exception:  # a package missing from the metadata is reported as such, never fatal
            out[name] = "unknown"
    return out


def read_stage(path: Path, pset, identity: str | None = None) -> StageResult:
    """A finished stage from its JSON file, every field checked (``schemas.Stage``) and written by this run
    (``identity``); its tree is read by the whitelist parser."""
    stage = runs.read_json(path, "a finished stage", schemas.Stage)
    if identity is not None and stage.run != identity:
        raise runs.RunFolderError(f"{path} was written by another run (another seed, benchmark, code or settings); "
                                  "nothing in it was used. Delete it to run that stage again, or start over with "
                                  "--force.")
    try:
        parse_tree(stage.formula_tree, pset)
    except TreeSyntaxError as exc:
        raise runs.RunFolderError(f"{path} holds a formula that is not of this search ({exc}); nothing in it was "
                                  "run. Delete it to run that stage again.") from None
    return StageResult(**stage.model_dump())


def _summary(results: dict[str, StageResult], benchmark: str) -> dict[str, Any]:
    folds = [r.heldout[benchmark] for s, r in results.items() if s.startswith("fold") and benchmark in r.heldout]
    out: dict[str, Any] = {"folds": len(folds)}
    for key in HELD_OUT_KEYS:
        values = [f[key] for f in folds if f[key] is not None and math.isfinite(f[key])]
        out[key] = float(np.mean(values)) if values else None
        out[f"{key}_std"] = float(np.std(values)) if values else None
    return out


def _simplified(expr: sympy.Expr, tables: dict[str, pd.DataFrame], reference: dict[str, np.ndarray]) -> sympy.Expr:
    """sympy's simplification of the chosen formula, kept only if it scores every architecture the same."""
    try:
        candidate = sympy.simplify(expr)
    except Exception:  # sympy gives up on some expressions (and may raise anything); the unsimplified one is correct
        return expr
    for name, table in tables.items():
        values = Formula(candidate).evaluate(table)
        if not np.allclose(values, reference[name], rtol=1e-9, atol=1e-12, equal_nan=True):
            return expr
    return candidate


def _wall_seconds(path: Path, sessions: list[float], now: float) -> float:
    """Wall time of every session on this run folder: an earlier session ran until the last file it wrote."""
    written = sorted(p.stat().st_mtime for folder in ("stages", "checkpoints") for p in (path / folder).glob("*")
                     if p.name != SESSIONS and p.is_file())
    total = 0.0
    for i, start in enumerate(sessions):
        end = sessions[i + 1] if i + 1 < len(sessions) else now
        if i + 1 == len(sessions):
            total += end - start
        else:
            inside = [m for m in written if start <= m < end]
            total += (inside[-1] - start) if inside else 0.0
    return total


def search_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path, config: SearchConfig, folds: int = 5,
                  train_ids: list[str] | None = None, transfer: dict[str, pd.DataFrame] | None = None,
                  n_jobs: int = 1, resume: bool = False, force: bool = False, progress: bool = True,
                  checksums: dict[str, str] | None = None, builder: str | None = None,
                  init_seed: int | None = None, with_activations: bool = False,
                  with_steps: int | None = None, step_details: bool = False) -> runs.Run:
    """Search one formula over the tables (name -> table with ``arch_id``, ``target``, ``n_params`` and features),
    report it held out and on ``transfer``, and write the run folder ``out_dir``.

    Stages are seeded in this process and independent of ``n_jobs``; an interrupted search continues with
    ``resume`` and ends exactly as an uninterrupted one."""
    config.validate()
    if train_ids is not None and len(tables) > 1:
        raise ZcDiscoverError("--train-ids applies to a single benchmark; search one benchmark at a time with it")
    path = Path(out_dir)
    runs.check_output(path, resume, force)   # before the lock, which would make the folder
    transfer = transfer or {}
    features, dropped = search_features(tables)
    if not features:
        raise DataError(f"the tables of {', '.join(tables)} share no feature that varies; nothing to search")
    arguments = {**asdict(config), "operators": list(config.operators), "benchmarks": list(tables), "folds": folds,
                 "train_ids": train_ids, "transfer": list(transfer), "builder": builder,
                 "init_seed": config.seed if init_seed is None else int(init_seed),
                 "with_activations": bool(with_activations), "with_steps": with_steps,
                 "step_details": bool(step_details)}
    run_config = {"arguments": arguments, "versions": _versions(), "features": len(features),
                  "dropped_features": dropped, "benchmark_checksums": checksums or {}}
    stages = plan_stages(tables, features, config, folds, train_ids)
    identity = runs.run_identity(run_config)
    seeds = stage_seeds(config.seed, list(stages))
    pset = make_pset(features, config.operators)
    with runs.RunLock(path):
        runs.prepare_folder(path, run_config, resume, force)
        sessions_path = path / "checkpoints" / SESSIONS
        sessions = [float(s) for s in runs.read_json(sessions_path, "session start times", schemas.Sessions)] \
            if sessions_path.exists() else []
        sessions.append(time.time())
        runs.write_json(sessions_path, sessions)
        results: dict[str, StageResult] = {}
        todo = []
        for stage in stages:
            done = path / "stages" / f"{stage}.json"
            if done.is_file():
                results[stage] = read_stage(done, pset, identity)
            else:
                todo.append(stage)
        log.info("searching %s over %d features: %d stage(s) to run (%s), population %d, %d generations",
                 ", ".join(tables), len(features), len(todo), ", ".join(todo) or "none", config.population,
                 config.generations)
        remote = active_engine() is not None
        sequential = not remote and (n_jobs == 1 or len(todo) <= 1)
        # On a cluster a stage neither checkpoints nor writes on the worker: this process writes each finished stage
        # as it arrives (an interrupted search then resumes from its finished stages).
        tasks = [(s, stages[s], features, config, seeds[s], None if remote else path / "checkpoints" / f"{s}.json",
                  progress and sequential, None if remote else path / "stages" / f"{s}.json",
                  None if remote else os.getpid(), identity) for s in todo]
        for stage, result in zip(todo, parallel_imap(run_stage, tasks, 1 if sequential else n_jobs, "search stages")):
            if remote:
                runs.write_json(path / "stages" / f"{stage}.json", asdict(result))
            results[stage] = result
            log.info("stage %s: %s (complexity %d, train %.4f, validation %.4f)%s", stage, result.formula,
                     result.complexity, result.train, result.validation,
                     "".join(f"; held out {b}: Kendall {m['kendall']:.4f}" for b, m in result.heldout.items()
                             if m.get("kendall") is not None))
        return _write_run(path, tables, transfer, config, results, run_config, features, pset, sessions)


def _write_run(path, tables, transfer, config, results, run_config, features, pset, sessions) -> runs.Run:
    final = results["final"]
    tree = parse_tree(final.formula_tree, pset)
    reference = {name: TreeEvaluator({f: t[f].to_numpy(float) for f in features})(tree).copy()
                 for name, t in tables.items()}
    formula = Formula(_simplified(tree_to_sympy(tree), tables, reference))
    stage_results = [r for s, r in results.items() if s.startswith("fold")]
    metrics: dict[str, Any] = {
        "formula": str(formula), "latex": formula.latex(), "tree": final.formula_tree,
        "complexity": final.complexity, "features": formula.features,
        "final_train": final.train, "final_validation": final.validation,
        "final_train_by_space": final.train_by_space,
        "heldout": {name: _summary(results, name) for name in tables},
        "folds": {s: r.heldout for s, r in results.items() if s.startswith("fold")},
        "fold_formulas": {s: r.formula for s, r in results.items() if s.startswith("fold")},
        "fold_train": {r.stage: r.train for r in stage_results},
        "ties": final.ties,
        "dropped_features": run_config["dropped_features"],
        "aggregate": config.aggregate,
        "evaluations": int(sum(r.evaluations for r in results.values())),
        "search_seconds": float(sum(r.seconds for r in results.values())),
        "wall_seconds": _wall_seconds(path, sessions, time.time()),
    }
    if final.heldout:  # --train-ids: the complement is the held-out set
        metrics["heldout"] = {name: {**m, "folds": 0} for name, m in final.heldout.items()}
    metrics["transfer"] = {}
    for name, table in transfer.items():
        missing = [f for f in formula.features if f not in table.columns]
        if missing:
            raise DataError(f"{name} lacks the feature(s) {', '.join(missing)} that the formula needs")
        metrics["transfer"][name] = table_quality(formula.evaluate(table), table).as_dict()
    metrics = runs.finite_or_none(metrics)
    runs.write_json(path / "metrics.json", metrics)
    front = pd.DataFrame(final.front)
    first = ["complexity", "train", "validation", "pareto"]
    equations = front[first + [c for c in front.columns if c.startswith("train[")] + ["formula", "tree"]]
    runs.write_text(path / "equations.csv", equations.to_csv(index=False))
    logbook = pd.DataFrame([row for r in results.values() for row in r.logbook])
    runs.write_text(path / "logbook.csv", logbook.to_csv(index=False))
    meta = export_meta(metrics, run_config["arguments"], run_config["versions"])
    runs.write_text(path / "best_proxy.py", render(formula, "python", meta))
    runs.write_text(path / "best_proxy.tex", render(formula, "latex", meta))
    run_figures(path, equations, metrics)
    return runs.Run(path, formula, metrics, equations, run_config)


__all__ = ["read_stage", "search_tables"]
