"""Stage checkpoints as plain JSON: nothing in them is ever executed when they are read.

A checkpoint holds the generation, the population and the Pareto front as tree strings with their fitness values,
the logbook, the state of Python's ``random`` as numbers, the elapsed seconds, the evaluation counts and the names of
every candidate evaluated so far (so that a resumed search counts and ties exactly as an uninterrupted one). Trees
are read back by ``gp.parse_tree``, a whitelist parser - never DEAP's ``from_string``, which ``eval``s its tokens.
Every field is validated; a file that is not a checkpoint of this stage, or is damaged, is one clear error.
"""
from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

from deap import tools

from ..errors import ZcDiscoverError
from .gp import TreeSyntaxError, parse_tree

FORMAT = "zc-discover-checkpoint"
VERSION = 1
LOGBOOK_KEYS = ("stage", "generation", "evaluations", "invalid", "front_size", "best_train",
                "best_train_validation", "best_validation", "seconds")


class CheckpointError(ZcDiscoverError):
    """A checkpoint that cannot be trusted: foreign, damaged, or of another search."""


def _encode(individuals) -> list[list]:
    return [[str(ind), [float(v) for v in ind.fitness.values]] for ind in individuals]


def write_checkpoint(path: Path, stage: str, config, generation: int, population: list, front, logbook: list,
                     seconds: float, scorer) -> None:
    """Write the state after ``generation`` atomically (a temporary file named by the process, then renamed)."""
    state = {
        "format": FORMAT, "version": VERSION, "stage": stage, "population_size": config.population,
        "generation": generation, "population": _encode(population), "front": _encode(front),
        "logbook": logbook, "random_state": _random_state(), "seconds": seconds,
        "evaluations": scorer.evaluations, "invalid": scorer.invalid, "seen": sorted(scorer.counted),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(state, allow_nan=False), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _random_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _fail(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is damaged or foreign ({why}); nothing in it was run. Delete it to "
                           "restart that stage from scratch (finished stages are kept), or start over with --force.")


def _number(value: Any, integer: bool = False) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def load_checkpoint(path: Path, stage: str, config) -> dict | None:
    """The validated state of ``stage`` from ``path``, or None when there is none yet.

    Raises
    ------
    CheckpointError
        For anything that is not a well-formed checkpoint of this stage and configuration.
    """
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _fail(path, f"not JSON: {type(exc).__name__}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != VERSION:
        raise _fail(path, "not a zc-discover checkpoint of this version")
    if state.get("stage") != stage or state.get("population_size") != config.population:
        raise _fail(path, f"it belongs to another stage or population size than {stage}")
    generation = state.get("generation")
    if not _number(generation, integer=True) or not 0 <= generation <= config.generations:
        raise _fail(path, f"generation {generation!r} is outside 0..{config.generations}")
    for name in ("population", "front"):
        entries = state.get(name)
        if not isinstance(entries, list) or not all(
                isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], list)
                and len(e[1]) == 2 and all(_number(v) for v in e[1]) for e in entries):
            raise _fail(path, f"its {name} is not a list of [tree, [train, size]]")
    if len(state["population"]) != config.population:
        raise _fail(path, "its population has the wrong size")
    logbook = state.get("logbook")
    if not isinstance(logbook, list) or len(logbook) != generation or not all(
            isinstance(row, dict) and set(row) == set(LOGBOOK_KEYS) and row["stage"] == stage
            and all(_number(row[k]) for k in LOGBOOK_KEYS if k != "stage") for row in logbook):
        raise _fail(path, "its logbook is malformed")
    random_state = state.get("random_state")
    if not (isinstance(random_state, list) and len(random_state) == 3 and random_state[0] == 3
            and isinstance(random_state[1], list) and len(random_state[1]) == 625
            and all(_number(v, integer=True) and 0 <= v < 2 ** 32 for v in random_state[1])
            and (random_state[2] is None or _number(random_state[2]))):
        raise _fail(path, "its random state is malformed")
    for key in ("seconds", "evaluations", "invalid"):
        if not _number(state.get(key), integer=key != "seconds") or state[key] < 0:
            raise _fail(path, f"{key} is not a non-negative number")
    seen = state.get("seen")
    if not isinstance(seen, list) or not all(isinstance(n, str) for n in seen):
        raise _fail(path, "its list of evaluated candidates is malformed")
    state["random_state"] = (3, tuple(random_state[1]), random_state[2])
    return state


def _individuals(entries: list, pset, path: Path) -> list:
    out = []
    for text, fitness in entries:
        try:
            ind = parse_tree(text, pset)
        except TreeSyntaxError as exc:
            raise CheckpointError(f"checkpoint {path} holds a tree that is not of this search ({exc}); "
                                  "nothing in it was run. Delete it or start over with --force.") from None
        ind.fitness.values = tuple(fitness)
        out.append(ind)
    return out


def restore_population(entries: list, pset, path: Path) -> list:
    """The population of the checkpoint ``path``, in its order, with its fitness values."""
    return _individuals(entries, pset, path)


def restore_front(entries: list, pset, similar, path: Path) -> tools.ParetoFront:
    """The Pareto front of a checkpoint in its order. ``HallOfFame.insert`` puts an item before the earlier ones of
    equal fitness, so items go in last first to come out in the stored order."""
    front = tools.ParetoFront(similar=similar)
    for ind in reversed(_individuals(entries, pset, path)):
        front.insert(ind)
    return front
