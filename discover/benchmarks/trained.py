"""A trained language model as a folder: ``config.json`` (Hugging Face), ``model.safetensors`` and ``card.json``.

The folder is data from elsewhere (a user's own model as much as one this project trained), so it is read as such:
the config through ``hf.check_config`` (no ``auto_map`` or ``trust_remote_code`` at any depth: such a folder names
code and is refused), no pickled file may lie in it (``.bin``, ``.pt``, ``.pkl``, ...: a weights format that can run
code), the weights only from safetensors, and every tensor's name and shape checked against the model the config
builds before a value is copied - a folder whose weights disagree with its config is one error naming the first
tensor that differs. ``card.json`` (``schemas.ModelCard``) says what made the weights (text, tokenizer, steps, seed)
and how good they are; it is required for the reference models (``pruning.reference``), optional for a user's folder.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import files, schemas
from ..errors import DataError
from . import hf
from .checksums import file_sha256

CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "card.json"
PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".h5")
ENCODER_TYPES = ("bert", "roberta", "roformer")   # model types trained and read as masked language models
MAX_WEIGHTS_BYTES = 4 * 2**30
MAX_CONFIG_BYTES = 1 << 20
CONFIG_DROPPED = ("architectures", "_name_or_path", "transformers_version", "torch_dtype", "dtype", "output_attentions",
                  "output_hidden_states", "return_dict")


def _refuse_code(value: Any, path: Path, where: str = "") -> None:
    """``hf.REFUSED_KEYS`` anywhere in the config (a sub-config of an encoder-decoder names code as well)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in hf.REFUSED_KEYS:
                raise DataError(f"{path}: {where}{key} names code to run, and this project never runs code from a "
                                "folder; remove it (use a model_type transformers ships)")
            _refuse_code(item, path, f"{where}{key}.")
    elif isinstance(value, list):
        for item in value:
            _refuse_code(item, path, where)


def check_folder(folder: str | os.PathLike) -> Path:
    """The folder, if it holds a config and safetensors weights and nothing pickled (else one DataError)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; a trained model is a folder with {CONFIG} and {WEIGHTS}")
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLED)
    if pickled:
        raise DataError(f"{folder / pickled[0]}: a pickled weights file (it can run code when loaded); this project "
                        f"reads {WEIGHTS} only - convert it with safetensors and remove the pickled file")
    for name in (CONFIG, WEIGHTS):
        if not (folder / name).exists():
            raise DataError(f"{folder / name} is missing; a trained model folder holds {CONFIG} and {WEIGHTS}")
    return folder


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` checked: a JSON object of a known ``model_type`` that names no code at any depth."""
    path = Path(folder) / CONFIG
    raw = files.read_json(path, "model config", limit=MAX_CONFIG_BYTES, root=folder)
    _refuse_code(raw, path)
    config = dict(hf.check_config(raw, path))
    for key in CONFIG_DROPPED:
        config.pop(key, None)
    return config


def read_card(folder: str | os.PathLike, required: bool = True) -> schemas.ModelCard | None:
    """``card.json`` (``schemas.ModelCard``), or None where absent and not ``required``."""
    path = Path(folder) / CARD
    if not path.exists():
        if required:
            raise DataError(f"{path} is missing; a reference model's card records its text, tokenizer and losses. "
                            "Rebuild the model (python experiments/build_reference_models.py).")
        return None
    return files.read_json(path, "model card", schemas.ModelCard, root=folder)


def _shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable safetensors file ({str(error).splitlines()[0][:120]})") from None


def model_task(config: dict[str, Any]) -> str:
    """What a trained folder's model predicts: ``masked-lm`` for a BERT-style encoder, else ``causal-lm``."""
    return "masked-lm" if config.get("model_type") in ENCODER_TYPES else "causal-lm"


def load_model(folder: str | os.PathLike, device: str | torch.device = "cpu",
               task: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The language model of a trained folder (causal, or masked for an encoder: ``model_task``), in eval mode,
    with its weights, and its checked config. ``task``: the one the caller needs; another is refused.

    Raises
    ------
    DataError
        For a folder that names code, holds pickles, lacks weights, or whose weights' names or shapes differ from
        what its config builds.
    """
    folder = check_folder(folder)
    config = read_config(folder)
    weights = folder / WEIGHTS
    info = files.check_regular(weights, "model weights", root=folder)
    if info.st_size > MAX_WEIGHTS_BYTES:
        raise DataError(f"{weights}: {info.st_size:,} bytes, over the limit of {MAX_WEIGHTS_BYTES:,} for a model "
                        "this project prunes on a CPU")
    if task is not None and model_task(config) != task:
        raise DataError(f"{folder}: its model is a {config.get('model_type')!r} {model_task(config)} model; this "
                        f"needs a {task} model")
    spec = {"task": model_task(config), "num_labels": None, "hf": config}
    with torch.device("meta"):
        skeleton = hf.model_class(spec).from_config(hf.hf_config(spec))
    expected = {name: tuple(p.shape) for name, p in skeleton.state_dict().items()}
    stored = _shapes(weights)
    tied = {name for name in expected if name not in stored and _tied_to_stored(skeleton, name, stored)}
    missing = sorted(set(expected) - set(stored) - tied)
    extra = sorted(set(stored) - set(expected))
    if missing or extra:
        which = f"lacks {missing[0]!r}" if missing else f"has {extra[0]!r}, which the config does not build"
        raise DataError(f"{weights} {which} ({len(missing)} missing, {len(extra)} unexpected tensors); the weights "
                        f"are not those of {folder / CONFIG}")
    wrong = next((name for name in stored if stored[name] != expected[name]), None)
    if wrong is not None:
        raise DataError(f"{weights}: {wrong!r} has shape {list(stored[wrong])}, the config builds "
                        f"{list(expected[wrong])}; the weights are not those of {folder / CONFIG}")
    from safetensors.torch import load_file
    with hf._without_default_init():
        model = hf.model_class(spec).from_config(hf.hf_config(spec))
    state = load_file(str(weights), device=str(device))
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    model.to(device)
    model.eval()
    return model, config


def _tied_to_stored(model: nn.Module, name: str, stored: dict) -> bool:
    """Whether parameter ``name`` is the same tensor as one that is stored (an output head tied to the embedding)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    if name not in params:
        return False
    return any(other in stored and params[other] is params[name] for other in params if other != name)


def save_model(folder: str | os.PathLike, model: nn.Module, card: dict[str, Any]) -> Path:
    """Write a trained folder: weights (safetensors; tied tensors once), config and card, each atomically; the card's
    ``weights_sha256`` is filled in from the file written."""
    from safetensors.torch import save_model as save_weights
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files.check_no_links(folder / WEIGHTS)
    tmp = folder / f".{WEIGHTS}.{os.getpid()}.tmp"
    try:
        save_weights(model, str(tmp))
        _sort_metadata(tmp)
        digest = file_sha256(tmp)
        os.replace(tmp, folder / WEIGHTS)
    finally:
        tmp.unlink(missing_ok=True)
    config = {k: v for k, v in model.config.to_dict().items() if k not in CONFIG_DROPPED}
    files.write_json(folder / CONFIG, config)
    card = schemas.ModelCard.model_validate({**card, "weights_sha256": digest})
    files.write_json(folder / CARD, card.model_dump())
    return folder


def _sort_metadata(path: Path) -> None:
    """Put a safetensors file's metadata in sorted order, in place. safetensors writes it from a Rust hash map, whose
    order changes from call to call: two saves of the same weights with tied tensors (which the metadata maps to the
    name kept) differed in their bytes, so in their digest. The header keeps its length, so the offsets of the
    tensors (relative to the header's end) stay valid."""
    with open(path, "r+b") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        metadata = header.pop("__metadata__", None)
        ordered = ({"__metadata__": dict(sorted(metadata.items()))} if metadata else {}) | header
        text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > size:   # never: the same keys and values, compact as safetensors writes them
            raise DataError(f"{path}: its safetensors header would grow when sorted; not rewritten")
        handle.seek(8)
        handle.write(text + b" " * (size - len(text)))


def weights_digest(folder: str | os.PathLike) -> str:
    """sha256 of the folder's weights file (what a values file's provenance names)."""
    return file_sha256(Path(folder) / WEIGHTS)


def config_digest(config: dict[str, Any]) -> str:
    """sha256 of a config (sorted JSON)."""
    import json
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
