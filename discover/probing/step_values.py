"""Few-step training signals over a benchmark: one run per architecture (``steps.train_steps``), in parallel, kept
as it finishes, and the stored values of the shipped benchmarks.

Values come from the one value store (``store.ValueStore``): the per-architecture cache, keyed by the whole request
(a stopped run continues where it stopped); the stored file of the benchmark
(``data/values/steps/<benchmark>-<builder>.csv.gz`` with its JSON), used only where its provenance - benchmark
digest, builder, initialisation seed, the step settings (batch, lr, seed, corpus and tokenizer digests, this module's
version; its step counts must include the requested ones) and torch - is the request's; and a training run of
whatever neither holds. Stored values of other settings are refused with one line saying what
differs, never mixed in.

Probing every architecture of the LTS spaces for 64 steps is hours on two cores; ``stratified_subset`` chooses a
seeded subset spread evenly over the non-embedding size, and the stored files say which architectures they hold.
"""
from __future__ import annotations

import logging
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..benchmarks import Benchmark, build_model
from ..benchmarks.seeding import INIT_VERSION
from ..errors import ConfigError, DataError
from ..parallel import parallel_imap
from ..store import StoredFile, ValueStore
from ..values import provenance, values_dir, write_values
from .run import forgetting_draws
from .steps import StepSettings, step_columns, train_steps

log = logging.getLogger(__name__)

OPTIONAL_COLUMNS = ("per_layer", "data_after")   # StepSettings fields that only add columns


def stored_dir() -> Path:
    """Where the stored few-step values live: ``steps/`` of the stored values folder."""
    return values_dir() / "steps"


def space_name(benchmark_name: str) -> str:
    """A benchmark's name as stored files know it: a folder benchmark (``hf:PATH``, ``lts:PATH``) by its folder's
    name, wherever it was loaded from (its content digest tells it apart)."""
    if ":" in benchmark_name:
        return Path(benchmark_name.split(":", 1)[1]).resolve().name
    return benchmark_name


def stored_path(benchmark_name: str, builder: str) -> Path:
    """The stored few-step values of one benchmark and builder."""
    return stored_dir() / f"{space_name(benchmark_name)}-{builder}.csv.gz"


def request(benchmark: Benchmark, builder: str, seed: int, settings: StepSettings) -> dict[str, Any]:
    """What stored or cached few-step values must record to answer this request."""
    return {"benchmark": space_name(benchmark.name), "benchmark_sha256": benchmark.checksum, "builder": builder,
            "seed": int(seed), "init_version": INIT_VERSION, "steps": settings.describe(), "torch": torch.__version__}


def request_difference(meta: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """What differs between a stored file's provenance and a request, in words; None when it answers it. A file
    answers every step count it recorded: the values after k steps do not depend on how far training went on."""
    for key, value in expected.items():
        stored = meta.get(key)
        if key == "steps" and isinstance(stored, dict) and isinstance(value, dict):
            # a file with the optional columns (per_layer, data_after) also answers a request without them
            differs = sorted(k for k in set(value) | set(stored) if k != "steps" and stored.get(k) != value.get(k)
                             and not (k in OPTIONAL_COLUMNS and stored.get(k) is True and not value.get(k)))
            if differs:
                return f"its step settings differ in {', '.join(differs)} ({stored.get(differs[0])!r}, not " \
                       f"{value.get(differs[0])!r})"
            missing = sorted(set(value["steps"]) - set(stored.get("steps") or []))
            if missing:
                return f"it holds the values after {stored.get('steps')} steps, not after {missing}"
        elif stored != value:
            return f"it was computed with {key} {stored!r}, not {value!r}"
    return None


@forgetting_draws
def step_arch(benchmark: Benchmark, arch_id: str, builder: str, seed: int, settings: StepSettings) -> dict[str, Any]:
    """One architecture trained once: its columns, ``steps{k}_seconds`` per step count, or ``error``."""
    arch = benchmark.arch(arch_id)
    try:
        model = build_model(benchmark, arch, builder, seed)
        values, seconds = train_steps(model, benchmark.family, arch.config, settings)
    except ConfigError:   # the settings do not fit this space: the request's fault, not a result to keep
        raise
    except (MemoryError, FloatingPointError, RuntimeError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return {"values": values, "seconds": {str(k): v for k, v in seconds.items()}}


def _finite(record: dict) -> dict:
    """A record as JSON can hold it (NaN as None)."""
    if "values" in record:
        record = {**record, "values": {k: (v if math.isfinite(v) else None) for k, v in record["values"].items()}}
    return record


def step_table(benchmark: Benchmark, ids: list[str] | None = None, settings: StepSettings | None = None,
               builder: str | None = None, seed: int = 0, n_jobs: int = 1, use_cache: bool = True,
               use_stored: bool = True) -> pd.DataFrame:
    """The few-step signals of ``ids`` (default: every architecture), one row each: ``arch_id``, every column of
    ``steps.step_columns`` and ``steps{k}_seconds`` (the wall time to reach k steps, measurements included).

    Parameters
    ----------
    benchmark : Benchmark
    ids : list of str, optional
    settings : StepSettings, optional
        Default: steps 1, 4, 16, 64; batch 8 x 64 tokens; AdamW lr 1e-3; seed 0.
    builder, seed : the models' reading and initialisation seed.
    n_jobs : int
        Parallel workers (each single-threaded: the values do not depend on it).
    use_cache, use_stored : bool
        Read (and write) the per-architecture cache; read the stored values of the shipped benchmarks.

    Returns
    -------
    pandas.DataFrame
        An architecture whose run failed has NaN everywhere and its reason in ``error``.
    """
    settings = (settings or StepSettings()).validate()
    builder = benchmark.family.builder(builder)
    ids = [a.id for a in benchmark.archs] if ids is None else [benchmark.arch(i).id for i in ids]
    expected = request(benchmark, builder, seed, settings)
    stored = StoredFile(stored_path(benchmark.name, builder), lambda meta: request_difference(meta, expected),
                        lambda meta, values: _stored_entries(values, settings)) if use_stored else None
    store = ValueStore("steps", benchmark.name, expected, stored, use_cache)

    def compute(todo: dict[str, list[str]]):
        log.info("training %d architecture(s) of %s for %s steps (batch %d x %d tokens)", len(todo), benchmark.name,
                 "/".join(map(str, settings.steps)), settings.batch, settings.seq)
        tasks = [(benchmark, arch_id, builder, seed, settings) for arch_id in todo]
        for arch_id, record in zip(todo, parallel_imap(step_arch, tasks, n_jobs, f"few-step {benchmark.name}")):
            yield arch_id, {ENTRY: _finite(record)}

    records = store.get(ids, [ENTRY], _current, compute)
    return _frame({i: r[ENTRY] for i, r in records.items()}, ids, settings)


ENTRY = "steps"   # the one entry a few-step record holds


def _current(entry: Any, name: str) -> bool:
    return isinstance(entry, dict) and (isinstance(entry.get("values"), dict) or isinstance(entry.get("error"), str))


def _frame(records: dict[str, dict], ids: list[str], settings: StepSettings) -> pd.DataFrame:
    columns = step_columns(settings.steps, settings.per_layer, settings.data_after)
    rows = []
    for arch_id in ids:
        record = records[arch_id]
        values = record.get("values") or {}
        seconds = record.get("seconds") or {}
        row = {"arch_id": arch_id, **{c: _number(values.get(c)) for c in columns},
               **{f"steps{k}_seconds": _number(seconds.get(str(k))) for k in settings.steps},
               "error": record.get("error")}
        rows.append(row)
    frame = pd.DataFrame(rows)
    failed = frame["error"].notna()
    if failed.any():
        log.warning("few-step training failed on %d of %d architectures (first: %s on %s)", int(failed.sum()),
                    len(frame), frame.loc[failed, "error"].iloc[0], frame.loc[failed, "arch_id"].iloc[0])
    return frame


def _number(value) -> float:
    return float(value) if value is not None else math.nan


def stored_ids(benchmark: Benchmark, builder: str, seed: int, settings: StepSettings) -> list[str] | None:
    """The architectures whose few-step values the stored file of ``benchmark`` holds for this request, or None
    where there is no such file (or it answers another request)."""
    path = stored_path(benchmark.name, builder)
    if not path.is_file():
        return None
    meta = provenance(path)
    if request_difference(meta, request(benchmark, builder, seed, settings)) is not None:
        return None
    ids = meta.get("ids")
    return [str(i) for i in ids] if isinstance(ids, list) else None


def _stored_entries(values: pd.DataFrame, settings: StepSettings) -> dict[str, dict]:
    """A stored file's long values as entries (one per architecture)."""
    records: dict[str, dict] = {}
    for arch_id, group in values.groupby("arch_id", sort=False):
        failure = group["failure"].dropna()
        if len(failure):
            records[arch_id] = {ENTRY: {"error": str(failure.iloc[0])}}
            continue
        by_name = dict(zip(group["proxy"], group["value"]))
        records[arch_id] = {ENTRY: {"values": {k: v for k, v in by_name.items() if not k.endswith("_seconds")},
                                    "seconds": {str(k): by_name.get(f"steps{k}_seconds") for k in settings.steps}}}
    return records


def write_step_values(benchmark: Benchmark, table: pd.DataFrame, path: str | Path, builder: str, seed: int,
                      settings: StepSettings, **extra: Any) -> dict[str, Any]:
    """Write a step table as a values file (long format) with its provenance JSON beside it."""
    builder = benchmark.family.builder(builder)
    columns = [c for c in table.columns if c.startswith("steps")]
    long = []
    for row in table.itertuples(index=False):
        row = row._asdict()
        for column in columns:
            long.append((row["arch_id"], column, row[column], row.get("error"),
                         row.get(f"steps{column.split('_')[0][5:]}_seconds", math.nan)))
    frame = pd.DataFrame(long, columns=["arch_id", "proxy", "value", "failure", "seconds"])
    meta = {**request(benchmark, builder, seed, settings), "n": len(table), "complete": len(table) == len(benchmark),
            "ids": table["arch_id"].astype(str).tolist(), "columns": columns,
            "seconds_per_arch": {str(k): float(np.nanmean(table[f"steps{k}_seconds"])) for k in settings.steps},
            "python": platform.python_version(), "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d"), **extra}
    write_values(frame, path, meta)
    return meta


def stratified_subset(sizes: pd.Series, n: int, seed: int = 0) -> list[str]:
    """``n`` architecture ids spread evenly over their sizes: the ids sorted by size (``sizes``: id -> non-embedding
    parameters) cut into ``n`` strata of (nearly) equal count, one drawn from each by a generator seeded with
    ``seed``; all of them when there are at most ``n``. Returned in the benchmark's order."""
    if n <= 0:
        raise DataError(f"a subset needs at least one architecture, got {n}")
    if len(sizes) <= n:
        return list(sizes.index.astype(str))
    order = sizes.sort_values(kind="mergesort").index.astype(str).tolist()
    rng = np.random.default_rng(seed)
    strata = np.array_split(np.arange(len(order)), n)
    chosen = {order[int(rng.choice(stratum))] for stratum in strata}
    return [i for i in sizes.index.astype(str) if i in chosen]


__all__ = ["request", "request_difference", "space_name", "step_arch", "step_table", "stored_ids", "stored_path",
           "stratified_subset",
           "write_step_values"]
