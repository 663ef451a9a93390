"""The discovery loop: typed GP over feature tables, NSGA-II on (train correlation, complexity), held-out folds.

A search is a list of *stages*: one per cross-validation fold (search on the other folds, report on this one) and a
``final`` stage on all training architectures, whose chosen formula is the result. Stages are independent, seeded in
the main process, and may run in parallel; each checkpoints itself every generation (``checkpoint``), so an
interrupted search resumes where it stopped and ends exactly as an uninterrupted one would.

Determinism does not rest on the seed alone: wherever candidates tie, a stated rule decides. Two trees that rank every
space's architectures alike are one candidate, represented by the smaller tree, then the alphabetically first; the
final formula is the simplest within ``max(delta, one standard error)`` of the best validation score, then the best
validation, the best mean training score over spaces, and the alphabetically first formula.
"""
from __future__ import annotations

import logging
import math
import operator
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from deap import base, creator, gp, tools
from scipy import stats

from ..errors import ConfigError
from ..metrics import iso_param_pairs, rank_quality
from ..parallel import exit_if_orphaned
from .checkpoint import load_checkpoint, restore_front, restore_population, write_checkpoint
from .config import AGGREGATES, FITNESSES, SearchConfig  # noqa: F401  (re-exported: the loop's settings)
from .gp import (STAGE_RANDOM, WORST, TreeEvaluator, crossover_one_point, generate, make_pset, parse_tree,
                 tree_to_sympy)
from .selection import choose, one_standard_error

log = logging.getLogger(__name__)
@dataclass
class Problem:
    """One benchmark as the search sees it: feature columns over all its architectures, and which rows are which."""

    name: str
    columns: dict[str, np.ndarray]
    target: np.ndarray
    n_params: np.ndarray
    size: np.ndarray             # non-embedding parameters (the size that size-controlled metrics hold fixed)
    arch_ids: list[str]
    train: np.ndarray            # rows the stage may learn from (inner-train: fitness)
    validation: np.ndarray       # inner validation rows: choosing among the front
    heldout: np.ndarray          # rows never seen by the stage: reported


@dataclass
class StageResult:
    """What one stage leaves: chosen formula and tree, its scores, held-out metrics, front, logbook, ties."""
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
    ties: dict[str, Any] = field(default_factory=dict)
    train_by_space: dict[str, float] = field(default_factory=dict)
    run: str | None = None


MANTISSA_BITS = 40


def quantised(values: np.ndarray) -> np.ndarray:
    """``values`` with their mantissas rounded to ``MANTISSA_BITS`` bits. A candidate's values come from numpy's
    vectorised functions, whose last bits can depend on how an array happens to lie in memory (a SIMD path for the
    aligned part, a scalar one for the rest); two architectures whose values tie exactly in one process could differ
    by an ulp in another, and the ranking - hence the whole search - with them. Rounded, equal values stay equal
    wherever the search runs (loky, Dask, one process)."""
    mantissa, exponent = np.frexp(values)
    return np.ldexp(np.round(mantissa * 2.0 ** MANTISSA_BITS) / 2.0 ** MANTISSA_BITS, exponent)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks (1..n) along each row, ties sharing their average rank (scipy's 'average'), for a 2-D array."""
    return stats.rankdata(values, axis=1)


def _spearman_rows(ranks: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Spearman of each row of average ``ranks`` (P x n) with the vector ``other`` (n)."""
    centred = ranks - (ranks.shape[1] + 1) / 2.0   # average ranks always have mean (n + 1) / 2
    other_ranks = stats.rankdata(other)
    other_ranks -= other_ranks.mean()
    denominator = np.sqrt(np.einsum("ij,ij->i", centred, centred) * (other_ranks @ other_ranks))
    with np.errstate(all="ignore"):
        return (centred @ other_ranks) / denominator


def _size_matched_kendall_rows(values: np.ndarray, target: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row over the pairs of near-equal size (``metrics.kendall_size_matched``), in chunks."""
    i, j = iso_param_pairs(size)
    if not len(i):
        return np.full(len(values), np.nan)
    dy = np.sign(target[i] - target[j])
    tied_y = np.count_nonzero(dy == 0)
    out = np.empty(len(values))
    step = max(1, 4_000_000 // len(i))
    for start in range(0, len(values), step):
        dx = np.sign(values[start:start + step, i] - values[start:start + step, j])
        tied_x = np.count_nonzero(dx == 0, axis=1)
        denominator = np.sqrt((len(i) - tied_x) * float(len(i) - tied_y))
        with np.errstate(all="ignore"):
            out[start:start + step] = (dx @ dy) / denominator
    return out


def batch_correlation(values: np.ndarray, target: np.ndarray, kind: str, ranks: np.ndarray | None = None,
                      size: np.ndarray | None = None) -> np.ndarray:
    """Signed rank quality of each row of ``values`` (P x n) against ``target`` (n) under the fitness ``kind``
    (``size``, the non-embedding sizes, for ``iso`` and ``partial``)."""
    if kind == "kendall":
        return np.array([stats.kendalltau(row, target).statistic for row in values])
    if kind == "iso":
        return _size_matched_kendall_rows(values, target, size)
    ranks = average_ranks(values) if ranks is None else ranks
    spearman = _spearman_rows(ranks, target)
    if kind != "partial":
        return spearman
    with_size = _spearman_rows(ranks, size)
    target_size = stats.spearmanr(target, size).statistic
    with np.errstate(all="ignore"):
        partial = (spearman - with_size * target_size) / np.sqrt((1 - with_size ** 2) * (1 - target_size ** 2))
    # a formula ordered exactly as size knows nothing beyond it (metrics.partial_spearman gives it 0 too)
    return np.where(1 - with_size ** 2 <= 1e-12, 0.0, partial)


class Scorer:
    """Fitness of trees on one or several problems: the train correlations aggregated over problems (min or mean).

    The validation correlation is computed lazily, only for the trees that reach the front (the only ones it is used
    for). ``counted`` holds every tree name ever evaluated, also across a resume, so that the evaluation count of a
    resumed search equals an uninterrupted one's."""

    def __init__(self, problems: list[Problem], kind: str, aggregate: str = "min"):
        self.problems, self.kind, self.aggregate = problems, kind, aggregate
        self.evaluators = [TreeEvaluator(p.columns) for p in problems]
        self.memo: dict[str, tuple[float, bytes, tuple[float, ...]]] = {}
        self.sizes: dict[str, int] = {}
        self.validation_memo: dict[str, float] = {}
        self.counted: set[str] = set()
        self.evaluations = 0
        self.invalid = 0

    def _combine(self, per_problem: np.ndarray) -> np.ndarray:
        return per_problem.min(axis=0) if self.aggregate == "min" else per_problem.mean(axis=0)

    def score(self, trees: list, names: list[str] | None = None) -> list[tuple[float, bytes, tuple[float, ...]]]:
        """(aggregate train correlation, semantic key, per-problem train) per tree; invalid candidates get WORST."""
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
        per_problem = np.empty((len(self.problems), count))
        valid = np.ones(count, dtype=bool)
        key_parts = []
        for index, (problem, evaluator) in enumerate(zip(self.problems, self.evaluators)):
            values = quantised(evaluator.many(trees, names))
            seen = values[:, np.concatenate([problem.train, problem.validation])]
            ok = np.isfinite(seen).all(axis=1)
            fit = seen[:, : len(problem.train)]
            fit[~ok] = 0.0
            ok &= fit.max(axis=1) > fit.min(axis=1)
            valid &= ok
            fit[~ok] = np.arange(fit.shape[1])  # any non-constant row; its score is discarded below
            ranks = average_ranks(fit)
            per_problem[index] = batch_correlation(fit, problem.target[problem.train], self.kind, ranks,
                                                   problem.size[problem.train])
            key_parts.append(ranks.astype(np.float32))
        # Two trees that order every space's training architectures alike are one candidate.
        keys = np.concatenate(key_parts, axis=1)
        train = self._combine(per_problem)
        for i, (name, tree) in enumerate(zip(names, trees)):
            good = bool(valid[i]) and math.isfinite(train[i])
            if name not in self.counted:
                self.counted.add(name)
                self.evaluations += 1
                self.invalid += not good
            self.memo[name] = (float(train[i]) if good else WORST, keys[i].tobytes() if good else name.encode(),
                               tuple(float(v) for v in per_problem[:, i]) if good else ())
            self.sizes[name] = len(tree)

    def validation(self, individuals: list) -> None:
        """Set ``ind.validation``: the aggregate over problems of the correlation on the inner validation rows."""
        names = [str(ind) for ind in individuals]
        todo = [(n, ind) for n, ind in zip(names, individuals) if n not in self.validation_memo]
        if todo:
            per_problem = np.empty((len(self.problems), len(todo)))
            finite_all = np.ones(len(todo), dtype=bool)
            for index, (problem, evaluator) in enumerate(zip(self.problems, self.evaluators)):
                values = quantised(evaluator.many([t for _, t in todo], [n for n, _ in todo]))[:, problem.validation]
                finite = np.isfinite(values).all(axis=1) & (np.ptp(np.nan_to_num(values), axis=1) > 0)
                finite_all &= finite
                per_problem[index] = batch_correlation(np.where(finite[:, None], values, 0.0),
                                                       problem.target[problem.validation], self.kind,
                                                       size=problem.size[problem.validation])
            result = np.where(finite_all, self._combine(per_problem), WORST)
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
        roll = STAGE_RANDOM.random()
        if roll < config.crossover:
            a, b = (toolbox.clone(STAGE_RANDOM.choice(population)) for _ in range(2))
            child = toolbox.mate(a, b)[0]
        elif roll < config.crossover + config.mutation:
            child = STAGE_RANDOM.choice(mutations)(toolbox.clone(STAGE_RANDOM.choice(population)))[0]
        else:
            child = toolbox.clone(STAGE_RANDOM.choice(population))
        del child.fitness.values
        offspring.append(child)
    return offspring


def _attach(individuals: list, scorer: Scorer) -> None:
    """Set ``train`` and ``key`` of each individual from the scorer (computing what is new)."""
    for ind, (train, key, per_problem) in zip(individuals, scorer.score(individuals, [str(i) for i in individuals])):
        ind.train, ind.key, ind.per_problem = train, key, per_problem


def _assign(individuals: list, scorer: Scorer) -> None:
    """Set fitness; among individuals with the same ranking of architectures, only one keeps its score: the smallest
    tree, then the alphabetically first (never the order in which they happen to come)."""
    _attach(individuals, scorer)
    best_of_key: dict[bytes, int] = {}
    for i, ind in enumerate(individuals):
        holder = best_of_key.get(ind.key)
        if holder is None or (len(ind), str(ind)) < (len(individuals[holder]), str(individuals[holder])):
            best_of_key[ind.key] = i
    keep = set(best_of_key.values())
    for i, ind in enumerate(individuals):
        ind.fitness.values = (ind.train if i in keep else WORST, float(len(ind)))


def _same_candidate(a, b) -> bool:
    return a.key == b.key


def run_stage(stage: str, problems: list[Problem], features: list[str], config: SearchConfig, seed: int,
              checkpoint: Path | None = None, progress: bool = False, result_path: Path | None = None,
              owner_pid: int | None = None, identity: str | None = None) -> StageResult:
    """One GP search on the problems' training rows; returns the chosen formula and its held-out metrics.

    With ``checkpoint``, the state is written there every generation and a search found there is continued. With
    ``result_path``, the finished stage is also written there (atomically) as soon as it ends, so that an
    interruption later in the search never loses it. A stage running in a worker for ``owner_pid`` stops as soon as
    that process is gone. ``identity`` (``runs.run_identity``) is written into both files and a checkpoint of another
    run is refused.

    Every draw comes from ``gp.STAGE_RANDOM`` (DEAP's too), never from the global ``random`` that the rest of the
    process shares (a Dask worker's event loop draws from it); one stage at a time runs in a process
    (``_STAGE_LOCK``), so that threads of one worker never interleave their draws either."""
    with _STAGE_LOCK:
        return _run_stage(stage, problems, features, config, seed, checkpoint, progress, result_path, owner_pid,
                          identity)


_STAGE_LOCK = threading.Lock()


def _run_stage(stage, problems, features, config, seed, checkpoint, progress, result_path, owner_pid,
               identity) -> StageResult:
    start = time.perf_counter()
    pset = make_pset(features, config.operators)
    toolbox = _toolbox(pset, config)
    scorer = Scorer(problems, config.fitness, config.aggregate)
    state = load_checkpoint(checkpoint, stage, config, identity) if checkpoint else None
    if state is not None:
        STAGE_RANDOM.setstate(state["random_state"])
        # Every candidate the interrupted search evaluated is scored again (not counted again), so that the ties
        # and the best formula of each complexity are known as they were.
        seen = [parse_tree(name, pset) for name in state["seen"]]
        scorer.counted.update(state["seen"])
        scorer.score(seen, state["seen"])
        scorer.evaluations, scorer.invalid = state["evaluations"], state["invalid"]
        population = restore_population(state["population"], pset, checkpoint)
        _attach(population, scorer)
        front = restore_front(state["front"], pset, _same_candidate, checkpoint)
        _attach(list(front), scorer)
        scorer.validation(list(front))
        logbook, first_generation, elapsed = state["logbook"], state["generation"] + 1, state["seconds"]
        log.info("stage %s resumes after generation %d", stage, state["generation"])
    else:
        STAGE_RANDOM.seed(seed)
        # Every feature on its own is a candidate from the start (the simplest formulas are too easy to miss among
        # hundreds of terminals); the rest of the population is random.
        singles = [creator.ZcIndividual([t]) for t in pset.terminals[pset.ret]][: config.population // 2]
        population = singles + [creator.ZcIndividual(toolbox.expr())
                                for _ in range(config.population - len(singles))]
        _assign(population, scorer)
        # The running Pareto front feeds the logbook (best train and validation of each generation); the formula a
        # stage reports is chosen from everything it evaluated (best_by_complexity).
        front = tools.ParetoFront(similar=_same_candidate)
        front.update([ind for ind in population if ind.fitness.values[0] > WORST])
        scorer.validation(list(front))
        logbook, first_generation, elapsed = [], 1, 0.0
    for generation in range(first_generation, config.generations + 1):
        exit_if_orphaned(owner_pid)
        offspring = _vary(population, toolbox, config)
        pool = population + offspring
        _assign(pool, scorer)
        population = tools.selNSGA2(pool, config.population, nd="log")
        front.update([ind for ind in population if ind.fitness.values[0] > WORST])
        scorer.validation(list(front))
        best = max(front, key=lambda ind: ind.train) if len(front) else None
        record = {"stage": stage, "generation": generation, "evaluations": scorer.evaluations,
                  "invalid": scorer.invalid, "front_size": len(front),
                  "best_train": best.train if best else WORST,
                  "best_train_validation": best.validation if best else WORST,
                  "best_validation": max((ind.validation for ind in front), default=WORST),
                  "seconds": elapsed + time.perf_counter() - start}
        logbook.append(record)
        if progress:
            log.info("[%s] gen %d/%d: best train %.4f (validation %.4f), front %d, %d evaluations", stage,
                     generation, config.generations, record["best_train"], record["best_train_validation"],
                     len(front), scorer.evaluations)
        if checkpoint is not None:
            exit_if_orphaned(owner_pid)
            write_checkpoint(checkpoint, stage, config, generation, population, front, logbook, record["seconds"],
                             scorer, identity)
    result = _finish(stage, seed, problems, logbook, config, scorer, pset, elapsed + time.perf_counter() - start)
    result.run = identity
    if result_path is not None:
        from ..runs import write_json
        exit_if_orphaned(owner_pid)
        write_json(result_path, asdict(result))
    return result


def best_by_complexity(scorer: Scorer) -> pd.DataFrame:
    """For each complexity, the best formula the search evaluated (ties: the alphabetically first tree), with
    ``pareto`` true when it beats every simpler one on the training data - PySR's front; the other rows show what
    more complexity bought (or did not) on these data."""
    best: dict[int, tuple[float, str]] = {}
    for name, (train, _, _) in scorer.memo.items():
        if train <= WORST:
            continue
        size = scorer.sizes[name]
        current = best.get(size)
        if current is None or (-train, name) < (-current[0], current[1]):
            best[size] = (train, name)
    rows, record = [], -np.inf
    for size in sorted(best):
        train, name = best[size]
        rows.append({"complexity": size, "train": train, "pareto": train > record, "tree": name})
        record = max(record, train)
    return pd.DataFrame(rows, columns=["complexity", "train", "pareto", "tree"])


def _finish(stage, seed, problems, logbook, config, scorer, pset, seconds) -> StageResult:
    table = best_by_complexity(scorer)
    if table.empty:
        raise ConfigError(f"stage {stage}: every candidate formula was constant or not finite on the training "
                          "architectures; there is nothing to choose from")
    trees = {name: parse_tree(name, pset) for name in table["tree"]}
    individuals = list(trees.values())
    scorer.validation(individuals)
    table["validation"] = [ind.validation for ind in individuals]
    table["train_mean"] = [float(np.mean(scorer.memo[n][2])) for n in table["tree"]]
    table["formula"] = [str(tree_to_sympy(t)) for t in individuals]
    for index, problem in enumerate(problems):
        table[f"train[{problem.name}]"] = [scorer.memo[n][2][index] for n in table["tree"]]
    # The simplest formula within max(delta, one standard error of the best validation score): differences smaller
    # than the validation split can resolve are not worth a more complex formula.
    best_validation = float(table.loc[table["pareto"], "validation"].max())
    n_validation = min(len(p.validation) for p in problems)
    chosen = choose(table[table["pareto"]], max(config.delta, one_standard_error(best_validation, n_validation)))
    tree = trees[chosen["tree"]]
    heldout = {}
    for problem, evaluator in zip(problems, scorer.evaluators):
        if len(problem.heldout):
            values = evaluator(tree)[problem.heldout]
            heldout[problem.name] = rank_quality(values, problem.target[problem.heldout],
                                                 problem.n_params[problem.heldout],
                                                 problem.size[problem.heldout]).as_dict()
    return StageResult(stage, seed, chosen["tree"], chosen["formula"], int(chosen["complexity"]),
                       float(chosen["train"]), float(chosen["validation"]), heldout,
                       table.drop(columns=["train_mean"]).to_dict("records"), logbook, seconds, scorer.evaluations,
                       ties(scorer, float(chosen["train"]), config.tie_tolerance),
                       {p.name: scorer.memo[chosen["tree"]][2][i] for i, p in enumerate(problems)})


def ties(scorer: Scorer, train: float, tolerance: float) -> dict[str, Any]:
    """How many distinct formulas (and distinct rankings) the search found within ``tolerance`` of ``train`` on the
    training data: when there are many, the data cannot tell them apart and another space (or seed) may choose
    another. The simplest ten are listed."""
    near = [(scorer.sizes[n], n) for n, (t, _, _) in scorer.memo.items() if t > WORST and abs(t - train) <= tolerance]
    near.sort()
    keys = {scorer.memo[n][1] for _, n in near}
    return {"tolerance": tolerance, "formulas": len(near), "distinct_rankings": len(keys),
            "simplest": [n for _, n in near[:10]]}


def stage_seeds(seed: int, stages: list[str]) -> dict[str, int]:
    """Independent seeds per stage, drawn in the main process (so the result does not depend on --jobs)."""
    children = np.random.SeedSequence(int(seed)).spawn(len(stages))
    return {stage: int(child.generate_state(1)[0]) for stage, child in zip(stages, children)}
