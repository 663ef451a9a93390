"""Prune a trained model: the sub-network each method would ship at a given size, and its held-out loss.

``prune_model`` measures the model's units once on the calibration batch, scores the candidate sub-networks that
remove the requested share of blocks, heads or channel groups with each method (the published criteria, and any
discovered formula of a run folder), takes each method's best candidate, and measures the held-out loss of every
pick. SLEB is run as its paper does for depth: blocks removed one at a time, each time the one whose removal gives
the lowest calibration loss (for heads and channel groups, the candidate of lowest calibration loss).
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..benchmarks import trained
from ..benchmarks.pruning.evaluate import mean_loss
from ..benchmarks.pruning.mixed import mixed_ids
from ..benchmarks.pruning.models import models_dir
from ..benchmarks.pruning.reference import REFERENCE_MODELS
from ..benchmarks.pruning.space import FFN_GROUPS, KINDS, blocks_of, make_id, space_ids, subnetwork
from ..errors import ConfigError, DataError
from .calibration import head_count, unit_statistics
from .criteria import CRITERIA, criteria_for, get_criterion
from .model_text import model_windows
from .space_values import LIMITS, candidate_features
from .table import space_table

log = logging.getLogger(__name__)


def resolve_model(model: str | os.PathLike) -> Path:
    """A reference model's name (its folder under ``models_dir()``), ``prune:PATH`` or a folder path."""
    text = str(model)
    if text in REFERENCE_MODELS:
        folder = models_dir() / text
        if not folder.is_dir():
            raise DataError(f"reference model {text!r} is not built yet (looked in {folder}); build it with "
                            f"'python experiments/build_reference_models.py {text}' (about 15-25 min on two "
                            "cores), or set ZC_DISCOVER_MODELS to where it is")
        return folder
    folder = Path(text[len("prune:"):] if text.startswith("prune:") else text).expanduser()
    trained.check_folder(folder)
    return folder


def removal_count(remove: float, units: int, kind: str) -> int:
    """How many of ``units`` a share ``remove`` (0 < remove < 1) removes; an error for none or all."""
    if not isinstance(remove, (int, float)) or not 0 < float(remove) < 1:
        raise ConfigError(f"--remove must be a percentage in (0, 100), got {remove!r}")
    count = int(round(float(remove) * units))
    if count < 1:
        raise ConfigError(f"removing {remove:.0%} of {units} {kind} units removes none; ask for more")
    if count >= units:
        raise ConfigError(f"removing {remove:.0%} of {units} {kind} units removes every one; ask for less")
    return count


def _sleb_depth(model, batch, count: int) -> str:
    removed: list[int] = []
    n = len(blocks_of(model))
    for _ in range(count):
        trials = {b: mean_loss(subnetwork(model, make_id("depth", removed + [b]), head_count(model)), batch)
                  for b in range(n) if b not in removed}
        removed.append(min(trials, key=lambda b: (trials[b], b)))
    return make_id("depth", removed)


def prune_model(model: str | os.PathLike, kind: str = "depth", remove: float = 0.25,
                methods: Iterable[str] | None = None, limit: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The sub-network each method would ship after removing ``remove`` of the model's ``kind`` units.

    Parameters
    ----------
    model : str or path
        A reference model's name (``llama-8``, ``gpt2-8``, ``llama-12``), or a folder of a trained Hugging Face
        causal language model (``config.json`` + ``model.safetensors``; a ``tokenizer.json`` where it was not
        trained on this project's tokenizer).
    kind : {"depth", "heads", "ffn", "mixed"}
    remove : float
        Share of the units removed, in (0, 1); for ``mixed``, the share of the blocks' weights every candidate
        removes (blocks, heads and channel groups together, ``benchmarks.pruning.mixed``).
    methods : iterable of str, optional
        Criteria (``pruning.criteria.CRITERIA``) and ``run:DIR`` for a discovered formula (default: every criterion
        of ``kind``).
    limit, seed : optional
        How many candidates are scored (default ``space_values.LIMITS``; all where there are fewer), sampled by
        ``seed``.

    Returns
    -------
    pandas.DataFrame
        One row per method: ``method``, ``sub_network``, ``heldout_loss`` (nats per token), ``cost``, ``seconds``,
        ``paper``; sorted by held-out loss. ``attrs`` holds the full model's loss and the count removed.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown pruning kind {kind!r}; one of {', '.join(KINDS)}")
    methods = list(methods) if methods else [c.name for c in criteria_for(kind)]
    runs = {}
    for name in methods:
        if name.startswith("run:"):
            from ..runs import load_run
            runs[name] = load_run(name[4:]).formula
        elif kind not in get_criterion(name).kinds:
            raise ConfigError(f"criterion {name!r} does not apply to {kind} pruning (it scores "
                              f"{', '.join(get_criterion(name).kinds)})")
    folder = resolve_model(model)
    loaded, _ = trained.load_model(folder, task="causal-lm")
    n_heads, n_layers = head_count(loaded), len(blocks_of(loaded))
    if kind == "mixed":   # the share is of the blocks' weights; every candidate removes that much
        removal_count(remove, 100, kind)
        ids = mixed_ids(loaded, n_heads, float(remove), limit or LIMITS[kind], seed)
        count, units_total = round(100 * float(remove)), 100
    else:
        units_total = n_layers * {"depth": 1, "heads": n_heads, "ffn": FFN_GROUPS}[kind]
        count = removal_count(remove, units_total, kind)
        ids = space_ids(kind, n_layers, n_heads, counts=(count,), limit=limit or LIMITS[kind], seed=seed)
    heldout, calibration = model_windows(folder)
    started = time.perf_counter()
    units = unit_statistics(loaded, calibration, kind)
    unit_seconds = time.perf_counter() - started
    candidates = pd.DataFrame({"arch_id": ids, "removed": count})
    picks: dict[str, tuple[str, float]] = {}
    for name in methods:
        t0 = time.perf_counter()
        if name in runs:
            if "features" not in candidates:
                memo: dict = {}
                rows = [candidate_features(loaded, arch_id, n_heads, memo)[1] for arch_id in ids]
                candidates = pd.concat([candidates, pd.DataFrame(rows)], axis=1)
                candidates["features"] = True
            table = space_table(candidates.drop(columns=["features"]), units, kind, "calibration")
            scores = runs[name].evaluate(table)
            pick = ids[int(np.nanargmax(np.where(np.isfinite(scores), scores, -np.inf)))]
        elif name == "sleb" and kind == "depth":
            pick = _sleb_depth(loaded, calibration, count)
        elif name == "sleb":
            losses = [mean_loss(subnetwork(loaded, i, n_heads), calibration) for i in ids]
            pick = ids[int(np.argmin(losses))]
        else:
            scores = get_criterion(name).score(candidates, units, kind)
            pick = ids[int(np.argmax(scores))]
        # the unit statistics are this criterion's fixed cost (weights-only ones need none of their passes)
        shared = 0.0 if name == "sleb" or name in runs or CRITERIA[name].zero_cost else unit_seconds
        picks[name] = (pick, time.perf_counter() - t0 + shared)
    losses = {pick: mean_loss(subnetwork(loaded, pick, n_heads), heldout) for pick, _ in set(picks.values())}
    rows = [{"method": name, "sub_network": pick, "heldout_loss": losses[pick],
             "cost": "discovered formula: weights of every candidate + 1 F + 1 B per model" if name in runs
             else CRITERIA[name].cost, "seconds": round(seconds, 2),
             "paper": "" if name in runs else CRITERIA[name].paper} for name, (pick, seconds) in picks.items()]
    table = pd.DataFrame(rows).sort_values(["heldout_loss", "method"]).reset_index(drop=True)
    table.attrs.update({"full_heldout_loss": mean_loss(loaded, heldout), "removed": count, "units": units_total,
                        "candidates": len(ids), "kind": kind})
    return table


def parse_share(text: str) -> float:
    """``25%``, ``25`` or ``0.25`` as a share in (0, 1) (a ConfigError for anything else)."""
    raw = str(text).strip()
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise ConfigError(f"--remove must be a percentage such as 25%, got {text!r}") from None
    share = value / 100 if raw.endswith("%") or value >= 1 else value
    if not np.isfinite(share) or not 0 < share < 1:
        raise ConfigError(f"--remove must be a percentage in (0, 100), got {text!r}")
    return share
