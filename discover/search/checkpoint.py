"""Stage checkpoints as plain JSON: nothing in them is ever executed when they are read.

A checkpoint holds the generation, the population and the Pareto front as tree strings with their fitness values,
the logbook, the state of Python's ``random`` as numbers, the elapsed seconds, the evaluation counts and the names of
every candidate evaluated so far (so that a resumed search counts and ties exactly as an uninterrupted one). Trees
are read back by ``gp.parse_tree``, a whitelist parser - never DEAP's ``from_string``, which ``eval``s its tokens.
Every field is validated; a file that is not a checkpoint of this stage, or is damaged, is one clear error.
"""
from __future__ import annotations

import json
from pathlib import Path

from deap import tools

from .. import files, schemas
from ..errors import DataError, ZcDiscoverError
from .gp import TreeSyntaxError, parse_tree

FORMAT = "zc-discover-checkpoint"
VERSION = 1


class CheckpointError(ZcDiscoverError):
    """A checkpoint that cannot be trusted: foreign, damaged, or of another search."""


def _encode(individuals) -> list[list]:
    return [[str(ind), [float(v) for v in ind.fitness.values]] for ind in individuals]


def write_checkpoint(path: Path, stage: str, config, generation: int, population: list, front, logbook: list,
                     seconds: float, scorer, identity: str | None = None) -> None:
    """Write the state after ``generation`` atomically (``runs.write_text``: a temporary file named by the process,
    renamed over the target, never through a link)."""
    from ..runs import write_text
    state = {
        "format": FORMAT, "version": VERSION, "stage": stage, "population_size": config.population,
        "generation": generation, "population": _encode(population), "front": _encode(front),
        "logbook": logbook, "random_state": _random_state(), "seconds": seconds,
        "evaluations": scorer.evaluations, "invalid": scorer.invalid, "seen": sorted(scorer.counted),
        "run": identity,
    }
    write_text(path, json.dumps(state, allow_nan=False))


def _random_state() -> list:
    from .gp import STAGE_RANDOM
    version, internal, gauss = STAGE_RANDOM.getstate()
    return [version, list(internal), gauss]


def _fail(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is damaged or foreign ({why}); nothing in it was run. Delete it to "
                           "restart that stage from scratch (finished stages are kept), or start over with --force.")


def load_checkpoint(path: Path, stage: str, config, identity: str | None = None) -> dict | None:
    """The validated state of ``stage`` from ``path``, or None when there is none yet.

    The file is read by ``files.read_json`` (a regular file inside the run folder, bounded, no duplicate keys) and
    checked against ``schemas.Checkpoint`` (every field's type and range), then against this stage and
    configuration.

    Raises
    ------
    CheckpointError
        For anything that is not a well-formed checkpoint of this stage and configuration.
    """
    from ..runs import RUN_FILE_LIMIT
    if not path.exists() and not path.is_symlink():
        return None
    try:
        state = files.read_json(path, "checkpoint", schemas.Checkpoint, RUN_FILE_LIMIT, root=path.parent.parent)
    except DataError as exc:   # its message names the file and the field
        raise _fail(path, str(exc).replace(f"{path} ", "").replace(f"{path}: ", "")) from None
    if identity is not None and state.run != identity:
        raise _fail(path, "it was written by another run (another seed, benchmark, code or settings)")
    if state.stage != stage or state.population_size != config.population:
        raise _fail(path, f"it belongs to another stage or population size than {stage}")
    if state.generation > config.generations:
        raise _fail(path, f"generation {state.generation} is outside 0..{config.generations}")
    if len(state.population) != config.population:
        raise _fail(path, "its population has the wrong size")
    if len(state.logbook) != state.generation or any(row.stage != stage for row in state.logbook):
        raise _fail(path, "its logbook is malformed")
    out = state.model_dump()
    out["population"] = [[tree, list(fitness)] for tree, fitness in state.population]
    out["front"] = [[tree, list(fitness)] for tree, fitness in state.front]
    out["random_state"] = (3, tuple(state.random_state[1]), state.random_state[2])
    return out


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
