"""Benchmark -> feature table: one row per architecture, built from its real torch model."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from primitives.decompose import decompose
from primitives.structure import structural_counts
from .builders import build_model
from .registry import Benchmark

log = logging.getLogger(__name__)


def arch_row(benchmark: Benchmark, arch_id: str, builder: str | None, seed: int) -> dict[str, float | str]:
    arch = benchmark.arch(arch_id)
    model = build_model(benchmark, arch, builder, seed)
    row: dict[str, float | str] = {"arch_id": arch.id, "target": arch.target}
    row.update(structural_counts(decompose(model)))
    return row


def featurize(benchmark: Benchmark, builder: str | None = None, seed: int = 0) -> pd.DataFrame:
    """The feature table of ``benchmark``: ``arch_id``, ``target``, ``n_params`` and parameter counts per role."""
    rows = [arch_row(benchmark, arch.id, builder, seed) for arch in benchmark.archs]
    return pd.DataFrame(rows)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``.parquet`` or ``.csv`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    if path.suffix not in {".parquet", ".csv"}:
        raise ValueError(f"output {path} must end in .parquet or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".parquet":
        table.to_parquet(tmp, index=False)
    else:
        table.to_csv(tmp, index=False)
    tmp.replace(path)
    return path
