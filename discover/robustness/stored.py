"""Where the stored robustness spaces (``lonas:ENCODER-TASK``) live and which are there, read from their provenance
files alone: this module imports neither torch nor pandas, so ``zc-discover benchmarks`` can list the spaces
without loading either (``compare`` reads the values themselves)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ZcDiscoverError
from ..files import read_json

PREFIX = "lonas:"


def values_root() -> Path:
    """``data/values/robustness`` of the source tree (where the stored spaces are committed)."""
    return Path(__file__).resolve().parents[2] / "data" / "values" / "robustness"


def space_paths(encoder: str, task: str, root: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(targets, features) values files of a space."""
    folder = Path(root) if root is not None else values_root()
    return (folder / f"{task}-{encoder}-targets.csv.gz", folder / f"{task}-{encoder}-features.csv.gz")


def probes_path(encoder: str, task: str, root: str | os.PathLike | None = None) -> Path:
    """The values file of the data proxies of a space's sub-networks (``robustness.probes``), when measured."""
    folder = Path(root) if root is not None else values_root()
    return folder / f"{task}-{encoder}-probes.csv.gz"


def stored_spaces(root: str | os.PathLike | None = None) -> list[str]:
    """The names (``lonas:ENCODER-TASK``) of the stored spaces with both their targets and features, from their
    provenance files; a damaged provenance file leaves its space out of the list."""
    folder = Path(root) if root is not None else values_root()
    names = []
    for path in sorted(folder.glob("*-targets.json")) if folder.is_dir() else []:
        try:
            meta = read_json(path, "robustness space provenance", limit=1 << 20)
            encoder, task = meta["encoder"], meta["request"]["task"]
        except (ZcDiscoverError, KeyError, TypeError):
            continue
        features = space_paths(encoder, task, folder)[1]
        if features.with_name(features.name[:-len(".csv.gz")] + ".json").is_file():
            names.append(f"{PREFIX}{encoder}-{task}")
    return names


__all__ = ["PREFIX", "probes_path", "space_paths", "stored_spaces", "values_root"]
