"""Proxy discovery end to end: feature tables -> folds -> GP stages -> chosen formula -> run folder.

The run folder (``-o RUN_DIR``) holds everything a reader needs and a later call can continue from:
``config.json`` (arguments, seed, versions, benchmark checksums), ``equations.csv`` (the final Pareto front),
``metrics.json`` (per-fold and mean held-out metrics, the final formula, transfer results), ``logbook.csv``,
``stages/<stage>.json`` (each finished stage), ``checkpoints/<stage>.pkl`` (written atomically every generation),
``best_proxy.py`` and ``best_proxy.tex``.
"""
from __future__ import annotations

import json
import logging
import math
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy

from . import __version__
from .errors import DataError, ZcDiscoverError
from .export import render
from .featurize import featurize
from .formula import Formula
from .gp import TreeEvaluator, tree_to_sympy
from .metrics import rank_quality
from .parallel import parallel_map
from .registry import Benchmark
from .score import NOT_FEATURES
from .search import Problem, SearchConfig, StageResult, run_stage, stage_seeds

log = logging.getLogger(__name__)
RUN_FILES = ("config.json", "equations.csv", "metrics.json", "logbook.csv", "best_proxy.py", "best_proxy.tex")
HELD_OUT_KEYS = ("spearman", "kendall", "kendall_iso_params", "top10_precision")


@dataclass
class Run:
    """A finished discovery: where it lives, its chosen formula and its metrics."""

    path: Path
    formula: Formula
    metrics: dict[str, Any]
    equations: pd.DataFrame
    config: dict[str, Any]


def search_features(tables: list[pd.DataFrame]) -> list[str]:
    """Columns every table has, minus the id and target, minus those constant everywhere (they rank nothing)."""
    shared = [c for c in tables[0].columns if c not in NOT_FEATURES and all(c in t.columns for t in tables[1:])]
    return [c for c in shared if any(t[c].nunique(dropna=False) > 1 for t in tables)]


def fold_rows(n: int, folds: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[k::folds]) for k in range(folds)]


def split_validation(rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    shuffled = np.random.default_rng(seed).permutation(rows)
    size = max(3, int(round(fraction * len(rows))))
    return np.sort(shuffled[size:]), np.sort(shuffled[:size])


def _problem(name: str, table: pd.DataFrame, features: list[str], learn: np.ndarray, heldout: np.ndarray,
             config: SearchConfig, seed: int) -> Problem:
    train, validation = split_validation(learn, config.validation_fraction, seed)
    # Rows reordered as [train | validation | held out], so that each part is a contiguous slice of every column.
    order = np.concatenate([train, validation, heldout]).astype(int)
    sizes = np.cumsum([len(train), len(validation), len(heldout)])
    return Problem(name, {f: table[f].to_numpy(float)[order] for f in features},
                   table["target"].to_numpy(float)[order], table["n_params"].to_numpy(float)[order],
                   table["arch_id"].astype(str).to_numpy()[order].tolist(), np.arange(sizes[0]),
                   np.arange(sizes[0], sizes[1]), np.arange(sizes[1], sizes[2]))


def plan_stages(tables: dict[str, pd.DataFrame], features: list[str], config: SearchConfig, folds: int,
                train_ids: list[str] | None) -> dict[str, list[Problem]]:
    """stage name -> the problems it searches. Folds are drawn per benchmark from the run seed."""
    stages: dict[str, list[Problem]] = {}
    names = list(tables)
    if train_ids is not None:
        table = tables[names[0]]
        ids = table["arch_id"].astype(str)
        unknown = sorted(set(train_ids) - set(ids))
        if unknown:
            raise DataError(f"{len(unknown)} training id(s) are not architectures of {names[0]}: "
                            f"{', '.join(unknown[:5])}")
        learn = np.flatnonzero(ids.isin(set(train_ids)).to_numpy())
        heldout = np.flatnonzero(~ids.isin(set(train_ids)).to_numpy())
        if len(learn) < 10:
            raise DataError(f"--train-ids gives {len(learn)} architectures; a search needs at least 10")
        stages["final"] = [_problem(names[0], table, features, learn, heldout, config, config.seed)]
        return stages
    for name, table in tables.items():
        if folds > len(table) // 5:
            raise DataError(f"--folds {folds} is too many for {name}'s {len(table)} architectures (each fold needs "
                            "at least 5); use fewer folds")
    fold_sets = {name: fold_rows(len(t), folds, config.seed) for name, t in tables.items()} if folds > 1 else {}
    for k in range(folds if folds > 1 else 0):
        stage = f"fold{k}"
        stages[stage] = []
        for name, table in tables.items():
            heldout = fold_sets[name][k]
            learn = np.setdiff1d(np.arange(len(table)), heldout)
            stages[stage].append(_problem(name, table, features, learn, heldout, config, config.seed + k + 1))
    stages["final"] = [_problem(name, table, features, np.arange(len(table)), np.array([], dtype=int), config,
                                config.seed) for name, table in tables.items()]
    return stages


def _versions() -> dict[str, str]:
    out = {"zc-discover": __version__, "python": platform.python_version()}
    for name in ("torch", "deap", "numpy", "scipy", "sympy", "pandas", "joblib"):
        try:
            out[name] = package_version(name)
        except Exception:
            out[name] = "unknown"
    return out


def _prepare_folder(path: Path, config: dict[str, Any], resume: bool, force: bool) -> None:
    existing = path / "config.json"
    if path.exists() and any(path.iterdir()):
        if force:
            for name in (*RUN_FILES, "stages", "checkpoints"):
                target = path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        elif resume:
            if not existing.is_file():
                raise ZcDiscoverError(f"{path} has no config.json: it is not a zc-discover run folder to resume.")
            previous = json.loads(existing.read_text())["arguments"]
            differ = sorted(k for k in set(previous) | set(config["arguments"])
                            if previous.get(k) != config["arguments"].get(k))
            if differ:
                raise ZcDiscoverError(f"cannot resume {path}: its search was started with other arguments "
                                      f"({', '.join(differ)}). Use the same ones, or --force to start over.")
        else:
            raise ZcDiscoverError(f"run folder {path} already exists. Continue it with --resume, or overwrite it "
                                  "with --force.")
    elif resume:
        log.warning("nothing to resume in %s; starting a new search", path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "stages").mkdir(exist_ok=True)
    _write(path / "config.json", json.dumps(config, indent=2) + "\n")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


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
    except Exception:  # sympy gives up on some expressions; the unsimplified one is correct
        return expr
    for name, table in tables.items():
        values = Formula(candidate).evaluate(table)
        if not np.allclose(values, reference[name], rtol=1e-9, atol=1e-12, equal_nan=True):
            return expr
    return candidate


def discover(benchmarks: list[Benchmark], out_dir: str | Path, config: SearchConfig | None = None, folds: int = 5,
             train_ids: list[str] | None = None, transfer: list[Benchmark] | None = None,
             builder: str | None = None, n_jobs: int = 1, resume: bool = False, force: bool = False,
             progress: bool = True, with_activations: bool = False) -> Run:
    """Search for one proxy formula across ``benchmarks``; report it held out, on ``transfer``, and export it.
    ``with_activations`` lets the search use data-dependent features too (an LPZero-like space)."""
    config = config or SearchConfig()
    if train_ids is not None and len(benchmarks) > 1:
        raise ZcDiscoverError("--train-ids applies to a single benchmark; search one benchmark at a time with it")

    def table(bench: Benchmark) -> pd.DataFrame:
        return featurize(bench, builder if bench.spec.family == "flexibert" else None, config.seed, n_jobs,
                         with_activations=with_activations)

    tables = {b.name: table(b) for b in benchmarks}
    transfer_tables = {b.name: table(b) for b in (transfer or [])}
    return search_tables(tables, out_dir, config, folds, train_ids, transfer_tables, n_jobs, resume, force,
                         progress, checksums={b.name: b.checksum for b in benchmarks}, builder=builder)


def search_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path, config: SearchConfig, folds: int = 5,
                  train_ids: list[str] | None = None, transfer: dict[str, pd.DataFrame] | None = None,
                  n_jobs: int = 1, resume: bool = False, force: bool = False, progress: bool = True,
                  checksums: dict[str, str] | None = None, builder: str | None = None) -> Run:
    """``discover`` on feature tables already in hand (name -> table with arch_id, target, n_params, features)."""
    start = time.perf_counter()
    path = Path(out_dir)
    transfer = transfer or {}
    features = search_features(list(tables.values()))
    arguments = {**asdict(config), "benchmarks": list(tables), "folds": folds, "train_ids": train_ids,
                 "transfer": list(transfer), "builder": builder}
    arguments["operators"] = list(config.operators)
    run_config = {"arguments": arguments, "versions": _versions(), "features": len(features),
                  "benchmark_checksums": checksums or {}}
    _prepare_folder(path, run_config, resume, force)
    stages = plan_stages(tables, features, config, folds, train_ids)
    seeds = stage_seeds(config.seed, list(stages))
    results: dict[str, StageResult] = {}
    todo = []
    for stage in stages:
        done = path / "stages" / f"{stage}.json"
        if done.is_file():
            results[stage] = StageResult(**json.loads(done.read_text()))
        else:
            todo.append(stage)
    log.info("searching %s over %d features: %d stage(s) to run (%s), population %d, %d generations",
             ", ".join(tables), len(features), len(todo), ", ".join(todo) or "none", config.population,
             config.generations)
    sequential = n_jobs == 1 or len(todo) <= 1
    finished = parallel_map(run_stage, [(s, stages[s], features, config, seeds[s],
                                         path / "checkpoints" / f"{s}.pkl", progress and sequential,
                                         path / "stages" / f"{s}.json")
                                        for s in todo], 1 if sequential else n_jobs, "stages")
    for stage, result in zip(todo, finished):
        results[stage] = result
        log.info("stage %s: %s (complexity %d, train %.4f, validation %.4f)%s", stage, result.formula,
                 result.complexity, result.train, result.validation,
                 "".join(f"; held out {b}: Kendall {m['kendall']:.4f}" for b, m in result.heldout.items()))
    return _write_run(path, tables, transfer, config, results, run_config, features, time.perf_counter() - start)


def _write_run(path, tables, transfer, config, results, run_config, features, seconds) -> Run:
    final = results["final"]
    from deap import gp as deap_gp
    from .gp import make_pset
    tree = deap_gp.PrimitiveTree.from_string(final.formula_tree, make_pset(features, config.operators))
    reference = {name: TreeEvaluator({f: t[f].to_numpy(float) for f in features})(tree).copy()
                 for name, t in tables.items()}
    formula = Formula(_simplified(tree_to_sympy(tree), tables, reference))
    metrics: dict[str, Any] = {
        "formula": str(formula), "latex": formula.latex(), "tree": final.formula_tree,
        "complexity": final.complexity, "features": formula.features,
        "final_train": final.train, "final_validation": final.validation,
        "heldout": {name: _summary(results, name) for name in tables},
        "folds": {s: r.heldout for s, r in results.items() if s.startswith("fold")},
        "fold_formulas": {s: r.formula for s, r in results.items() if s.startswith("fold")},
        "evaluations": int(sum(r.evaluations for r in results.values())),
        "search_seconds": float(sum(r.seconds for r in results.values())),
        "wall_seconds": seconds,
    }
    if final.heldout:  # --train-ids: the complement is the held-out set
        metrics["heldout"] = {name: {**m, "folds": 0} for name, m in final.heldout.items()}
    metrics["transfer"] = {}
    for name, table in transfer.items():
        missing = [f for f in formula.features if f not in table.columns]
        if missing:
            raise DataError(f"{name} lacks the feature(s) {', '.join(missing)} that the formula needs")
        metrics["transfer"][name] = rank_quality(formula.evaluate(table), table["target"],
                                                 table["n_params"]).as_dict()
    _write(path / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    equations = pd.DataFrame(final.front)[["complexity", "train", "validation", "formula", "tree"]]
    equations.to_csv(path / "equations.csv", index=False)
    logbook = pd.DataFrame([row for r in results.values() for row in r.logbook])
    logbook.to_csv(path / "logbook.csv", index=False)
    heldout = next(iter(metrics["heldout"].values()), {}).get("kendall")
    meta = {"version": __version__, "benchmarks": list(tables), "seed": config.seed,
            "heldout": f"{heldout:.3f}" if isinstance(heldout, float) else "n/a"}
    _write(path / "best_proxy.py", render(formula, "python", meta))
    _write(path / "best_proxy.tex", render(formula, "latex", meta))
    return Run(path, formula, metrics, equations, run_config)


def load_run(path: str | Path) -> Run:
    """A run folder written by ``discover`` (or ``zc-discover search``)."""
    path = Path(path)
    try:
        config = json.loads((path / "config.json").read_text())
        metrics = json.loads((path / "metrics.json").read_text())
        equations = pd.read_csv(path / "equations.csv")
    except FileNotFoundError as exc:
        raise ZcDiscoverError(f"{path} is not a finished run folder ({Path(exc.filename).name} is missing); "
                              "finish it with 'zc-discover search ... --resume'.") from None
    except (json.JSONDecodeError, pd.errors.ParserError) as exc:
        raise ZcDiscoverError(f"{path} holds a damaged run file ({exc}).") from None
    formula = Formula.from_string(metrics["formula"], metrics["features"])
    return Run(path, formula, metrics, equations, config)
