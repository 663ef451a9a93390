"""LTS (LiteTransformerSearch) folders: config_<i>/j<k>/model_config.yaml + ppl/params summaries -> ``Arch``."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import DataError
from .records import Arch

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JOB = re.compile(r"^config_(\d+)/j(\d+)/model_config\.yaml$")
REQUIRED = ("n_layer", "d_model", "d_embed", "n_head", "d_inner", "n_token", "cutoffs", "div_val", "tgt_len")


def read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}); re-download the benchmark with "
                        "'zc-discover fetch' or restore the file.") from None


def _per_layer(value: Any, n_layer: int, name: str, where: str) -> list[int]:
    values = value if isinstance(value, list) else [value] * n_layer
    if len(values) < n_layer:
        raise DataError(f"{where}: {name} has {len(values)} entries but n_layer is {n_layer}.")
    out = values[:n_layer]  # LTS stores lists longer than n_layer; only the first n_layer are used
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in out):
        raise DataError(f"{where}: {name} must hold positive integers, got {out!r}.")
    return out


def normalise_config(raw: Any, where: str) -> dict[str, Any]:
    """Validate a GPT-2 config and resolve its conventions (d_embed -1, per-layer lists, cutoffs)."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping of model hyper-parameters.")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}.")
    config = dict(raw)
    for key in ("n_layer", "d_model", "n_token", "div_val", "tgt_len"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] <= 0:
            raise DataError(f"{where}: {key} must be a positive integer, got {config[key]!r}.")
    n_layer, d_model = config["n_layer"], config["d_model"]
    if config["d_embed"] == -1:  # LTS convention: the embedding is as wide as the model
        config["d_embed"] = d_model
    if not isinstance(config["d_embed"], int) or config["d_embed"] <= 0:
        raise DataError(f"{where}: d_embed must be a positive integer or -1, got {raw['d_embed']!r}.")
    config["n_head"] = _per_layer(config["n_head"], n_layer, "n_head", where)
    config["d_inner"] = _per_layer(config["d_inner"], n_layer, "d_inner", where)
    for heads in config["n_head"]:
        if d_model % heads:
            raise DataError(f"{where}: n_head={heads} does not divide d_model={d_model}.")
    if not isinstance(config["cutoffs"], list) or not all(isinstance(c, int) for c in config["cutoffs"]):
        raise DataError(f"{where}: cutoffs must be a list of integers.")
    # Cutoffs at or past the vocabulary are dropped and the vocabulary size closes the list (Transformer-XL).
    config["cutoffs"] = sorted({c for c in config["cutoffs"] if 0 < c < config["n_token"]}) + [config["n_token"]]
    n_clusters = len(config["cutoffs"])
    tie_projs = config.get("tie_projs") or [False] * n_clusters
    config["tie_projs"] = [bool(t) for t in (list(tie_projs) + [False] * n_clusters)[:n_clusters]]
    config["tie_weight"] = bool(config.get("tie_weight", True))
    config.setdefault("weight_init_std", 0.02)
    config.setdefault("proj_init_std", 0.01)
    if config["d_embed"] // config["div_val"] ** (n_clusters - 1) < 1:
        raise DataError(f"{where}: d_embed={config['d_embed']} with div_val={config['div_val']} leaves a cluster "
                        "of width 0.")
    return config


def load_lts(folder: Path) -> list[Arch]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of the LTS layout (config_<i>/j<k>/model_config.yaml).")
    jobs = []
    for path in folder.glob("config_*/j*/model_config.yaml"):
        match = _JOB.match(path.relative_to(folder).as_posix())
        if match:
            jobs.append((int(match[1]), int(match[2]), path))
    if not jobs:
        raise DataError(f"{folder} holds no config_<i>/j<k>/model_config.yaml files; is it an LTS folder?")
    ppl = read_yaml(folder / "ppl_summary.yaml")
    params = read_yaml(folder / "params_summary.yaml") if (folder / "params_summary.yaml").exists() else {}
    if not isinstance(ppl, dict):
        raise DataError(f"{folder / 'ppl_summary.yaml'}: expected a mapping from config_<i>_j<k> to metrics.")
    records = []
    for i, k, path in sorted(jobs):
        arch_id = f"config_{i}_j{k}"
        metrics = ppl.get(arch_id)
        if not isinstance(metrics, dict) or "valid_ppl" not in metrics:
            raise DataError(f"{folder / 'ppl_summary.yaml'}: no valid_ppl for {arch_id}, whose config exists.")
        valid_ppl = metrics["valid_ppl"]
        if not isinstance(valid_ppl, (int, float)) or not math.isfinite(valid_ppl) or valid_ppl <= 0:
            raise DataError(f"{folder / 'ppl_summary.yaml'}: valid_ppl of {arch_id} must be a positive number, "
                            f"got {valid_ppl!r}.")
        config = normalise_config(read_yaml(path), str(path))
        extra = {f"params_{key}": value for key, value in (params.get(arch_id) or {}).items()}
        records.append(Arch(id=arch_id, config=config, target=-float(valid_ppl), metrics={**metrics, **extra}))
    return records
