"""The LTS (LiteTransformerSearch) folder layout, shared by its GPT-2 and Transformer-XL families.

A folder holds ``config_<i>/j<k>/model_config.yaml`` (one architecture per job), ``ppl_summary.yaml`` (job key
``config_<i>_j<k>`` -> ``valid_ppl`` ...) and, optionally, ``params_summary.yaml`` (job key -> ``AdaEmb``, ``Attn``,
``FFN``, ``nonembedding``, ``total``). The release's ``pareto_*`` folders hold ``M<k>/model_config.yaml`` instead, a
bare perplexity per ``M<k>`` in ``ppl_summary.yaml``, and ``latency_summary.yaml`` / ``memory_summary.yaml`` (kept as
each architecture's ``latency`` and ``memory`` metrics). A family reads it with ``load_folder``, giving its own config check and its
closed-form parameter counts, which are compared with ``params_summary.yaml`` wherever it has an entry.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any, Callable

from .. import files, schemas
from ..errors import DataError
from .base import Arch

log = logging.getLogger(__name__)
_JOB = re.compile(r"^config_(\d+)/j(\d+)/model_config\.yaml$")
_PARETO = re.compile(r"^M(\d+)/model_config\.yaml$")
SCALAR_SUMMARIES = {"latency": "latency_summary.yaml", "memory": "memory_summary.yaml"}   # the pareto folders'

REQUIRED = ("n_layer", "d_model", "d_embed", "n_head", "d_inner", "n_token", "cutoffs", "div_val", "tgt_len")
SUMMARY_PARTS = ("AdaEmb", "Attn", "FFN", "nonembedding", "total")
DEFAULT_PROBE_SEQ = 192   # the trained tgt_len of every LTS folder on WikiText-103


def read_yaml(path: Path, schema: Any = None) -> Any:
    """A YAML file of the folder, read by ``files.read_yaml`` (safe tags only, a regular file, bounded, no duplicate
    keys) and validated against ``schema`` (``schemas``)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise DataError(f"{path} is missing; the LTS layout needs it. Restore it, or re-download the benchmark with "
                        "'zc-discover fetch'.")
    try:
        return files.read_yaml(path, "LTS benchmark file", schema)
    except DataError as exc:
        raise DataError(f"{exc}; re-download the benchmark with 'zc-discover fetch' or restore the file.") from None


def per_layer(value: Any, n_layer: int, name: str, where: str) -> list[int]:
    """A per-layer hyper-parameter as a list of ``n_layer`` positive integers (a scalar applies to every layer)."""
    values = value if isinstance(value, list) else [value] * n_layer
    if len(values) < n_layer:
        raise DataError(f"{where}: {name} has {len(values)} entries but n_layer is {n_layer}.")
    out = values[:n_layer]  # LTS stores lists longer than n_layer; only the first n_layer are used
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in out):
        raise DataError(f"{where}: {name} must hold positive integers, got {out!r}.")
    return out


def normalise_config(raw: Any, where: str) -> dict[str, Any]:
    """Validate the fields both LTS families share and resolve their conventions (d_embed -1, per-layer lists,
    cutoffs closed by the vocabulary size, tie_projs padded to one flag per cluster)."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a mapping of model hyper-parameters, got {type(raw).__name__}.")
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
    if not isinstance(config["d_embed"], int) or isinstance(config["d_embed"], bool) or config["d_embed"] <= 0:
        raise DataError(f"{where}: d_embed must be a positive integer or -1, got {raw['d_embed']!r}.")
    config["n_head"] = per_layer(config["n_head"], n_layer, "n_head", where)
    config["d_inner"] = per_layer(config["d_inner"], n_layer, "d_inner", where)
    for heads in config["n_head"]:
        if d_model % heads:
            raise DataError(f"{where}: n_head={heads} does not divide d_model={d_model}.")
    if not isinstance(config["cutoffs"], list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in config["cutoffs"]):
        raise DataError(f"{where}: cutoffs must be a list of integers, got {config['cutoffs']!r}.")
    # Cutoffs at or past the vocabulary are dropped and the vocabulary size closes the list (Transformer-XL).
    config["cutoffs"] = sorted({c for c in config["cutoffs"] if 0 < c < config["n_token"]}) + [config["n_token"]]
    n_clusters = len(config["cutoffs"])
    tie_projs = config.get("tie_projs") or [False] * n_clusters
    if not isinstance(tie_projs, list):
        raise DataError(f"{where}: tie_projs must be a list of booleans, got {tie_projs!r}.")
    config["tie_projs"] = [bool(t) for t in (list(tie_projs) + [False] * n_clusters)[:n_clusters]]
    config["tie_weight"] = bool(config.get("tie_weight", True))
    for key, default in (("weight_init_std", 0.02), ("proj_init_std", 0.01)):
        value = config.setdefault(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise DataError(f"{where}: {key} must be a positive number, got {value!r}.")
    if config["d_embed"] // config["div_val"] ** (n_clusters - 1) < 1:
        raise DataError(f"{where}: d_embed={config['d_embed']} with div_val={config['div_val']} leaves a cluster "
                        "of width 0.")
    return config


def adaptive_embedding_params(config: dict[str, Any]) -> int:
    """Parameters of the adaptive input embedding (tables and projections): LTS's ``AdaEmb``."""
    d_embed, d_model, div_val = config["d_embed"], config["d_model"], config["div_val"]
    bounds = [0] + config["cutoffs"]
    if div_val == 1:
        return config["n_token"] * d_embed + (d_model * d_embed if d_embed != d_model else 0)
    total = 0
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        width = d_embed // div_val ** i
        total += (hi - lo) * width + d_model * width
    return total


def adaptive_softmax_params(config: dict[str, Any]) -> int:
    """Parameters the tied adaptive softmax owns: cluster logits, output biases, untied projections and (when the
    weights are not tied) output tables."""
    d_embed, d_model, div_val = config["d_embed"], config["d_model"], config["div_val"]
    bounds = [0] + config["cutoffs"]
    n_clusters = len(config["cutoffs"]) - 1
    total = n_clusters * d_embed + n_clusters + config["n_token"]
    needs_proj = div_val != 1 or d_embed != d_model
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        width = d_embed if div_val == 1 else d_embed // div_val ** i
        if needs_proj and not config["tie_projs"][i]:
            total += d_model * width
    if not config["tie_weight"]:
        total += config["n_token"] * d_embed if div_val == 1 else sum(
            (hi - lo) * (d_embed // div_val ** i) for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])))
    return total


def job_files(folder: Path) -> list[tuple[str, Path]]:
    """(job key, config path) of every architecture in the folder: ``config_<i>/j<k>/`` (the ``random_*`` folders,
    key ``config_<i>_j<k>``, in (config, job) order) and ``M<k>/`` (the ``pareto_*`` folders, key ``M<k>``, by k)."""
    jobs = []
    for path in folder.glob("config_*/j*/model_config.yaml"):
        match = _JOB.match(path.relative_to(folder).as_posix())
        if match:
            jobs.append((0, int(match[1]), int(match[2]), f"config_{match[1]}_j{match[2]}", path))
    for path in folder.glob("M*/model_config.yaml"):
        match = _PARETO.match(path.relative_to(folder).as_posix())
        if match:
            jobs.append((1, int(match[1]), 0, f"M{match[1]}", path))
    return [(key, path) for *_, key, path in sorted(jobs)]


def _summaries(folder: Path) -> tuple[dict, dict]:
    ppl = read_yaml(folder / "ppl_summary.yaml", schemas.PerplexitySummary)
    params = read_yaml(folder / "params_summary.yaml", schemas.ParameterSummaries) \
        if (folder / "params_summary.yaml").exists() else {}
    # a pareto folder gives each model's perplexity as a bare number
    ppl = {key: {"valid_ppl": entry} if isinstance(entry, (int, float)) else entry.model_dump()
           for key, entry in ppl.items() if entry is not None}
    for metric, name in SCALAR_SUMMARIES.items():
        if (folder / name).exists():
            for key, value in read_yaml(folder / name, schemas.NumberSummary).items():
                if key in ppl and value is not None:
                    ppl[key][metric] = value
    params = {key: {part: count for part, count in entry.model_dump().items() if count is not None}
              for key, entry in params.items() if entry is not None}
    return ppl, params


def check_folder(folder: Path) -> list[tuple[str, Path]]:
    """The job files of an LTS folder; a clear error when the folder is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of the LTS layout (config_<i>/j<k>/model_config.yaml + "
                        "ppl_summary.yaml).")
    jobs = job_files(folder)
    if not jobs:
        raise DataError(f"{folder} holds no config_<i>/j<k>/model_config.yaml (nor M<k>/model_config.yaml) files, "
                        "so no architectures; is it an LTS folder?")
    return jobs


def load_folder(folder: Path, family: str, normalise: Callable[[Any, str], dict[str, Any]],
                param_parts: Callable[[dict[str, Any]], dict[str, int]]) -> list[Arch]:
    """Every architecture of an LTS folder that has a perplexity, validated and checked against its counts.

    A job without ``valid_ppl`` is skipped with a warning naming it; a parameter count that differs from
    ``params_summary.yaml`` is an error naming the architecture and the part (the folder holds another family's
    models, or the config was edited)."""
    folder = Path(folder)
    jobs = check_folder(folder)
    ppl, params = _summaries(folder)
    records, skipped = [], []
    for arch_id, path in jobs:
        metrics = ppl.get(arch_id)
        if not isinstance(metrics, dict) or metrics.get("valid_ppl") is None:
            skipped.append(arch_id)
            continue
        valid_ppl = metrics["valid_ppl"]
        if isinstance(valid_ppl, bool) or not isinstance(valid_ppl, (int, float)) or not math.isfinite(valid_ppl) \
                or valid_ppl <= 0:
            raise DataError(f"{folder / 'ppl_summary.yaml'}: valid_ppl of {arch_id} must be a positive number, "
                            f"got {valid_ppl!r}.")
        raw = read_yaml(path)
        files.validate(path, raw, schemas.LtsModelConfig)   # types and bounds; the family checks the rest
        config = normalise(raw, str(path))
        reference = params.get(arch_id) or {}
        if reference:
            counts = param_parts(config)
            for part in SUMMARY_PARTS:
                if part in reference and int(reference[part]) != counts[part]:
                    raise DataError(
                        f"{folder.name}/{arch_id}: the {family} model built from its config has {counts[part]:,} "
                        f"{part} parameters, params_summary.yaml says {int(reference[part]):,}. The folder may hold "
                        f"another family's models: name it with lts-gpt2:PATH or lts-txl:PATH.")
        extra = {f"params_{key}": value for key, value in reference.items()}
        records.append(Arch(id=arch_id, config=config, target=-float(valid_ppl), metrics={**metrics, **extra}))
    if skipped:
        log.warning("%s: skipped %d architecture(s) without a valid_ppl in ppl_summary.yaml: %s", folder.name,
                    len(skipped), ", ".join(skipped))
    if not records:
        raise DataError(f"{folder}: none of its {len(jobs)} architectures has a valid_ppl in ppl_summary.yaml.")
    return records


def probe_seq(config: dict[str, Any], requested: int | None) -> int:
    """Token ids per probe sequence: one more than the positions the model reads (the last is only a target)."""
    return min(requested or DEFAULT_PROBE_SEQ, config["tgt_len"] + 1)


def head_logits(model, hidden):
    """The adaptive softmax's head-cluster logits (tokens x (shortlist + tail clusters)) of final hidden states."""
    return model.crit.head_logits(hidden.reshape(-1, hidden.shape[-1]))


def lm_task_loss(model, ids, labels, seed):
    """(final hidden states, mean next-token NLL): the language-modelling loss the LTS models were trained on."""
    hidden = model(ids[:, :-1])
    loss = model.crit(hidden.reshape(-1, hidden.shape[-1]), ids[:, 1:].reshape(-1)).mean()
    return hidden, loss
