"""The discovery loop: typed GP over feature tables, NSGA-II on (train correlation, complexity), held-out folds.

A search is a list of *stages*: one per cross-validation fold (search on the other folds, report on this one) and a
``final`` stage on all training architectures, whose chosen formula is the result. Stages are independent, seeded in
the main process, and may run in parallel; each checkpoints itself every generation, so an interrupted search resumes
where it stopped and ends exactly as an uninterrupted one would.
"""
from __future__ import annotations

import json
import logging
import math
import operator
import pickle
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from deap import base, creator, gp, tools
from scipy import stats

from .errors import ZcDiscoverError
from .gp import (DEFAULT_OPERATORS, WORST, TreeEvaluator, crossover_one_point, generate, make_pset,
                 tree_to_sympy)
from .metrics import rank_quality
from .selection import choose, one_standard_error

log = logging.getLogger(__name__)
FITNESSES = ("spearman", "kendall")


@dataclass
class SearchConfig:
    population: int = 200
    generations: int = 25
    fitness: str = "spearman"
    seed: int = 0
    max_height: int = 6
    max_size: int = 21
    crossover: float = 0.5
    mutation: float = 0.45
    validation_fraction: float = 0.25
    delta: float = 0.01
    operators: tuple[str, ...] = DEFAULT_OPERATORS


@dataclass
class Problem:
    """One benchmark as the search sees it: feature columns over all its architectures, and which rows are which."""

    name: str
    columns: dict[str, np.ndarray]
    target: np.ndarray
    n_params: np.ndarray
    arch_ids: list[str]
    train: np.ndarray            # rows the stage may learn from (inner-train: fitness)
    validation: np.ndarray       # inner validation rows: choosing among the front
    heldout: np.ndarray          # rows never seen by the stage: reported


@dataclass
class StageResult:
    stage: str
    seed: int
    formula_tree: str
    formula: str
    complexity: int
    train: float
    validation: float
    heldout: dict[str, dict[str, Any]]
    front: list[dict[str, Any]] = field(repr=False)
    logbook: list[dict[str, Any]] = field(repr=False)
    seconds: float = 0.0
    evaluations: int = 0


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks (1..n) along each row, ties sharing their average rank (scipy's 'average'), for a 2-D array."""
    return stats.rankdata(values, axis=1)


def batch_correlation(values: np.ndarray, target: np.ndarray, kind: str, ranks: np.ndarray | None = None
                      ) -> np.ndarray:
    """Signed rank correlation of each row of ``values`` (P x n) with ``target`` (n)."""
    if kind == "kendall":
        return np.array([stats.kendalltau(row, target).statistic for row in values])
    ranks = average_ranks(values) if ranks is None else ranks
    centred = ranks - (ranks.shape[1] + 1) / 2.0   # average ranks always have mean (n + 1) / 2
    target_ranks = stats.rankdata(target)
    target_ranks -= target_ranks.mean()
    denominator = np.sqrt(np.einsum("ij,ij->i", centred, centred) * (target_ranks @ target_ranks))
    with np.errstate(all="ignore"):
        return (centred @ target_ranks) / denominator


class Scorer:
    """Fitness of trees on one or several problems: the minimum over problems of the train correlation.

    The validation correlation is computed lazily, only for the trees that reach the Pareto front (the only ones it
    is used for), which saves a third of the work per candidate."""

    def __init__(self, problems: list[Problem], kind: str):
        self.problems, self.kind = problems, kind
        self.evaluators = [TreeEvaluator(p.columns) for p in problems]
        self.memo: dict[str, tuple[float, bytes]] = {}
        self.validation_memo: dict[str, float] = {}
        self.evaluations = 0
        self.invalid = 0

    def score(self, trees: list, names: list[str] | None = None) -> list[tuple[float, bytes]]:
        """(train correlation, semantic key) per tree; non-finite or constant candidates get WORST."""
        names = [str(t) for t in trees] if names is None else names
        todo: dict[str, object] = {}
        for name, tree in zip(names, trees):
            if name not in self.memo and name not in todo:
                todo[name] = tree
        if todo:
            self._score_new(list(todo), list(todo.values()))
        return [self.memo[name] for name in names]

    def _score_new(self, names: list[str], trees: list) -> None:
        count = len(names)
        train = np.full(count, np.inf)
        valid = np.ones(count, dtype=bool)
        keys: list[bytes] = []
        for index, (problem, evaluator) in enumerate(zip(self.problems, self.evaluators)):
            values = evaluator.many(trees, names)
            seen = values[:, np.concatenate([problem.train, problem.validation])]
            ok = np.isfinite(seen).all(axis=1)
            fit = seen[:, : len(problem.train)]
            fit[~ok] = 0.0
            ok &= fit.max(axis=1) > fit.min(axis=1)
            valid &= ok
            fit[~ok] = np.arange(fit.shape[1])  # any non-constant row; its score is discarded below
            ranks = average_ranks(fit)
            train = np.minimum(train, batch_correlation(fit, problem.target[problem.train], self.kind, ranks))
            if index == 0:  # two trees that order the first benchmark's architectures alike are one candidate
                keys = [r.tobytes() for r in ranks.astype(np.float32)]
        for i, name in enumerate(names):
            good = bool(valid[i]) and math.isfinite(train[i])
            self.invalid += not good
            self.memo[name] = (float(train[i]) if good else WORST, keys[i] if good else name.encode())
        self.evaluations += count

    def validation(self, individuals: list) -> None:
        """Set ``ind.validation``: the minimum over problems of the correlation on the inner validation rows."""
        names = [str(ind) for ind in individuals]
        todo = [(n, ind) for n, ind in zip(names, individuals) if n not in self.validation_memo]
        if todo:
            result = np.full(len(todo), np.inf)
            for problem, evaluator in zip(self.problems, self.evaluators):
                values = evaluator.many([t for _, t in todo], [n for n, _ in todo])[:, problem.validation]
                finite = np.isfinite(values).all(axis=1) & (np.ptp(np.nan_to_num(values), axis=1) > 0)
                correlation = batch_correlation(np.where(finite[:, None], values, 0.0),
                                                problem.target[problem.validation], self.kind)
                result = np.minimum(result, np.where(finite, correlation, WORST))
            for (name, _), value in zip(todo, result):
                self.validation_memo[name] = float(value) if math.isfinite(value) else WORST
        for name, ind in zip(names, individuals):
            ind.validation = self.validation_memo[name]


def _toolbox(pset: gp.PrimitiveSetTyped, config: SearchConfig) -> base.Toolbox:
    toolbox = base.Toolbox()
    toolbox.register("expr", generate, pset=pset, min_=1, max_=3)
    toolbox.register("expr_mut", generate, pset=pset, min_=0, max_=2)
    toolbox.register("mate", crossover_one_point)
    toolbox.register("mut_uniform", gp.mutUniform, expr=toolbox.expr_mut, pset=pset)
    toolbox.register("mut_node", gp.mutNodeReplacement, pset=pset)
    toolbox.register("mut_ephemeral", gp.mutEphemeral, mode="one")
    toolbox.register("mut_shrink", gp.mutShrink)
    limits = [gp.staticLimit(key=operator.attrgetter("height"), max_value=config.max_height),
              gp.staticLimit(key=len, max_value=config.max_size)]
    for name in ("mate", "mut_uniform", "mut_node", "mut_ephemeral", "mut_shrink"):
        for limit in limits:
            toolbox.decorate(name, limit)
    return toolbox


def _vary(population: list, toolbox: base.Toolbox, config: SearchConfig) -> list:
    """Offspring: crossover, one of four mutations, or a copy - each child from randomly drawn parents."""
    offspring = []
    mutations = (toolbox.mut_uniform, toolbox.mut_node, toolbox.mut_ephemeral, toolbox.mut_shrink)
    for _ in range(len(population)):
        roll = random.random()
        if roll < config.crossover:
            a, b = (toolbox.clone(random.choice(population)) for _ in range(2))
            child = toolbox.mate(a, b)[0]
        elif roll < config.crossover + config.mutation:
            child = random.choice(mutations)(toolbox.clone(random.choice(population)))[0]
        else:
            child = toolbox.clone(random.choice(population))
        del child.fitness.values
        offspring.append(child)
    return offspring


def _assign(individuals: list, scorer: Scorer) -> None:
    """Set fitness; among individuals with the same ranking of architectures, only the smallest keeps its score."""
    results = scorer.score(individuals, [str(ind) for ind in individuals])
    best_of_key: dict[bytes, int] = {}
    for i, (ind, (train, key)) in enumerate(zip(individuals, results)):
        ind.train, ind.key = train, key
        holder = best_of_key.get(key)
        if holder is None or len(ind) < len(individuals[holder]):
            best_of_key[key] = i
    keep = set(best_of_key.values())
    for i, (ind, (train, _)) in enumerate(zip(individuals, results)):
        ind.fitness.values = (train if i in keep else WORST, float(len(ind)))


def _same_candidate(a, b) -> bool:
    return a.key == b.key


def _checkpoint(path: Path | None, state: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            state = pickle.load(handle)
        if not isinstance(state, dict) or "generation" not in state:
            raise ValueError("not a zc-discover checkpoint")
        return state
    except Exception as exc:  # unpickling a damaged file raises many types; all mean the same to the user
        raise ZcDiscoverError(f"checkpoint {path} is corrupt ({type(exc).__name__}: {exc}). Delete it to restart "
                              "that stage from scratch (finished stages are kept), or run with --force.") from None


def run_stage(stage: str, problems: list[Problem], features: list[str], config: SearchConfig, seed: int,
              checkpoint: Path | None = None, progress: bool = False, result_path: Path | None = None
              ) -> StageResult:
    """One GP search on the problems' training rows; returns the chosen formula and its held-out metrics.

    With ``result_path``, the finished stage is also written there (atomically) as soon as it ends, so that an
    interruption later in the search never loses it."""
    start = time.perf_counter()
    pset = make_pset(features, config.operators)
    toolbox = _toolbox(pset, config)
    scorer = Scorer(problems, config.fitness)
    state = load_checkpoint(checkpoint) if checkpoint else None
    if state is not None:
        random.setstate(state["random_state"])
        population, front, logbook = state["population"], state["front"], state["logbook"]
        first_generation, elapsed = state["generation"] + 1, state["seconds"]
        scorer.evaluations, scorer.invalid = state["evaluations"], state["invalid"]
        log.info("stage %s resumes after generation %d", stage, state["generation"])
    else:
        random.seed(seed)
        # Every feature on its own is a candidate from the start (the simplest formulas are too easy to miss among
        # hundreds of terminals); the rest of the population is random.
        singles = [creator.ZcIndividual([t]) for t in pset.terminals[pset.ret]][: config.population // 2]
        population = singles + [creator.ZcIndividual(toolbox.expr())
                                for _ in range(config.population - len(singles))]
        _assign(population, scorer)
        front = tools.ParetoFront(similar=_same_candidate)
        front.update(population)
        scorer.validation(list(front))
        logbook, first_generation, elapsed = [], 1, 0.0
    for generation in range(first_generation, config.generations + 1):
        offspring = _vary(population, toolbox, config)
        pool = population + offspring
        _assign(pool, scorer)
        population = tools.selNSGA2(pool, config.population, nd="log")
        front.update([ind for ind in population if ind.fitness.values[0] > WORST])
        scorer.validation(list(front))
        best = max(front, key=lambda ind: ind.train)
        record = {"stage": stage, "generation": generation, "evaluations": scorer.evaluations,
                  "invalid": scorer.invalid, "front_size": len(front), "best_train": best.train,
                  "best_train_validation": best.validation,
                  "best_validation": max(ind.validation for ind in front),
                  "seconds": elapsed + time.perf_counter() - start}
        logbook.append(record)
        if progress:
            log.info("[%s] gen %d/%d: best train %.4f (validation %.4f), front %d, %d evaluations", stage,
                     generation, config.generations, record["best_train"], record["best_train_validation"],
                     len(front), scorer.evaluations)
        _checkpoint(checkpoint, {"generation": generation, "population": population, "front": front,
                                 "logbook": logbook, "random_state": random.getstate(), "seconds": record["seconds"],
                                 "evaluations": scorer.evaluations, "invalid": scorer.invalid, "stage": stage})
    result = _finish(stage, seed, problems, front, logbook, config, scorer, elapsed + time.perf_counter() - start)
    if result_path is not None:
        tmp = result_path.with_name(result_path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(result), default=float) + "\n")
        tmp.replace(result_path)
    return result


def _finish(stage, seed, problems, front, logbook, config, scorer, seconds) -> StageResult:
    rows = []
    for ind in front:
        rows.append({"complexity": len(ind), "train": ind.train, "validation": ind.validation,
                     "formula": str(tree_to_sympy(ind)), "tree": str(ind)})
    table = pd.DataFrame(rows).sort_values(["complexity", "train"], ascending=[True, False], ignore_index=True)
    # The simplest formula within max(delta, one standard error of the best validation score): differences smaller
    # than the validation split can resolve are not worth a more complex formula.
    best_validation = float(table["validation"].max())
    n_validation = min(len(p.validation) for p in problems)
    chosen = choose(table, max(config.delta, one_standard_error(best_validation, n_validation)))
    tree = next(ind for ind in front if str(ind) == chosen["tree"])
    heldout = {}
    for problem, evaluator in zip(problems, scorer.evaluators):
        if len(problem.heldout):
            values = evaluator(tree)[problem.heldout]
            heldout[problem.name] = rank_quality(values, problem.target[problem.heldout],
                                                 problem.n_params[problem.heldout]).as_dict()
    return StageResult(stage, seed, chosen["tree"], chosen["formula"], int(chosen["complexity"]),
                       float(chosen["train"]), float(chosen["validation"]), heldout, table.to_dict("records"),
                       logbook, seconds, scorer.evaluations)


def stage_seeds(seed: int, stages: list[str]) -> dict[str, int]:
    """Independent seeds per stage, drawn in the main process (so the result does not depend on --jobs)."""
    children = np.random.SeedSequence(int(seed)).spawn(len(stages))
    return {stage: int(child.generate_state(1)[0]) for stage, child in zip(stages, children)}
