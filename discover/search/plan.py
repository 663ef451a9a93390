"""From feature tables to search stages: which features a search may use, folds, inner validation splits."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..metrics import fold_rows  # noqa: F401  (the folds every held-out estimate shares)
from ..features import is_not_feature
from .loop import Problem, SearchConfig


def search_features(tables: dict[str, pd.DataFrame]) -> tuple[list[str], dict[str, str]]:
    """(features the search may use, dropped feature -> why).

    A feature is used when every table has it and it varies on at least one of them. A column some space lacks is
    dropped (and said so), as is one constant everywhere (it ranks nothing)."""
    names = list(tables)
    first = tables[names[0]]
    candidates = list(dict.fromkeys(c for t in tables.values() for c in t.columns if not is_not_feature(c)))
    features, dropped = [], {}
    for column in candidates:
        lacking = [name for name, table in tables.items() if column not in table.columns]
        if lacking:
            dropped[column] = f"missing from {', '.join(lacking)}"
        elif not any(t[column].nunique(dropna=False) > 1 for t in tables.values()):
            dropped[column] = "constant on every space"
        else:
            features.append(column)
    order = {c: i for i, c in enumerate(first.columns)}
    features.sort(key=lambda c: order.get(c, len(order)))
    return features, dropped


def split_validation(rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(inner-train, inner-validation) rows: a seeded ``fraction`` (at least 3 rows) for validation."""
    shuffled = np.random.default_rng(seed).permutation(rows)
    size = max(3, int(round(fraction * len(rows))))
    return np.sort(shuffled[size:]), np.sort(shuffled[:size])


def _problem(name: str, table: pd.DataFrame, features: list[str], learn: np.ndarray, heldout: np.ndarray,
             config: SearchConfig, seed: int) -> Problem:
    train, validation = split_validation(learn, config.validation_fraction, seed)
    # Rows reordered as [train | validation | held out], so that each part is a contiguous slice of every column.
    order = np.concatenate([train, validation, heldout]).astype(int)
    sizes = np.cumsum([len(train), len(validation), len(heldout)])
    size = table["params_nonembedding"] if "params_nonembedding" in table else table["n_params"]
    return Problem(name, {f: table[f].to_numpy(float)[order] for f in features},
                   table["target"].to_numpy(float)[order], table["n_params"].to_numpy(float)[order],
                   size.to_numpy(float)[order],
                   table["arch_id"].astype(str).to_numpy()[order].tolist(), np.arange(sizes[0]),
                   np.arange(sizes[0], sizes[1]), np.arange(sizes[1], sizes[2]))


def check_folds(name: str, n: int, folds: int) -> None:
    """Refuse held-out folds a space of ``n`` architectures cannot fill (each fold needs at least 5), saying how many
    it can take - called before any model is measured, and again when the stages are planned."""
    if folds > 1 and folds > n // 5:
        most = n // 5
        fix = f"--folds {most} (folds={most}) is the most it can hold" if most >= 2 else \
            "--folds 1 (folds=1: only the final search, no held-out estimate), or --train-ids with a split of your own"
        raise DataError(f"--folds {folds} is too many for {name}'s {n} architectures (each fold needs at least 5 "
                        f"held-out architectures); {fix}")


def plan_stages(tables: dict[str, pd.DataFrame], features: list[str], config: SearchConfig, folds: int,
                train_ids: list[str] | None) -> dict[str, list[Problem]]:
    """stage name -> the problems it searches. Folds are drawn per benchmark from the run seed.

    ``folds`` 1 means no held-out folds (only the ``final`` stage); ``train_ids`` (one benchmark) trains on those
    architectures and reports on the rest."""
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 1:
        raise ConfigError(f"folds must be 1 (no held-out folds) or more, got {folds!r}")
    stages: dict[str, list[Problem]] = {}
    names = list(tables)
    for name, table in tables.items():
        if len(table) < 10:
            raise DataError(f"{name} has {len(table)} architectures; a search needs at least 10")
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
        check_folds(name, len(table), folds)
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
