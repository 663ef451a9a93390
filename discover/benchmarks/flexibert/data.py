"""NAS-Bench-BERT (FlexiBERT space): the benchmark JSON -> validated ``Arch`` records."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ...errors import DataError
from ...files import read_json
from ...schemas import MAX_HEADS, MAX_LAYERS, MAX_WIDTH
from ..base import Arch

OPERATION_PARAMETERS = {"SA": ("SDP", "WMA"), "LT": ("DFT", "DCT"), "DSC": None}  # DSC: a conv kernel size
LAYER_FIELDS = ("operation_type", "operation_parameter", "num_operation_heads", "feed_forward_dimension",
                "num_feed_forward")


def _positive_int(value: Any, what: str, where: str, upper: int = MAX_WIDTH) -> int:
    """A positive integer of at most ``upper`` (the file may spell it as a string of digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and (
            len(value) > 12 or not value.strip().isdigit())):
        raise DataError(f"{where}: {what} must be a positive integer, got {str(value)[:40]!r}.")
    number = int(value)
    if not 0 < number <= upper:
        raise DataError(f"{where}: {what} must be a positive integer of at most {upper:,}, got {number:,}.")
    return number


def parse_layer(raw: Any, hidden: int, where: str) -> dict[str, Any]:
    """Validate one encoder layer and return it with normalised types."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a layer must be an object with fields {', '.join(LAYER_FIELDS)}; got {raw!r}.")
    missing = [f for f in LAYER_FIELDS if f not in raw]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}; every layer needs {', '.join(LAYER_FIELDS)}.")
    op = raw["operation_type"]
    if op not in OPERATION_PARAMETERS:
        raise DataError(f"{where}: unknown operation_type {op!r}; expected one of SA, LT, DSC.")
    param = raw["operation_parameter"]
    allowed = OPERATION_PARAMETERS[op]
    if allowed is None:
        param = _positive_int(param, "operation_parameter (DSC kernel size)", where, 1025)
    elif param not in allowed:
        raise DataError(f"{where}: operation_parameter {param!r} is not valid for {op}; expected one of "
                        f"{', '.join(allowed)}.")
    heads = _positive_int(raw["num_operation_heads"], "num_operation_heads", where, MAX_HEADS)
    if hidden % heads:
        raise DataError(f"{where}: num_operation_heads={heads} does not divide hidden_size={hidden}.")
    return {
        "operation_type": op,
        "operation_parameter": param,
        "num_operation_heads": heads,
        "feed_forward_dimension": _positive_int(raw["feed_forward_dimension"], "feed_forward_dimension", where),
        "num_feed_forward": _positive_int(raw["num_feed_forward"], "num_feed_forward", where, 64),
    }


def parse_record(raw: Any, position: int) -> Arch:
    """One record of the benchmark JSON as an ``Arch`` (every field validated)."""
    where = f"record #{position}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object with 'id', 'scores' and 'hparams', got {type(raw).__name__}.")
    if "id" not in raw:
        raise DataError(f"{where}: missing field 'id'.")
    where = f"record #{position} (id {raw['id']!r})"
    try:
        glue = raw["scores"]["glue"]
        overrides = raw["hparams"]["model_hparam_overrides"]
        hidden = overrides["hidden_size"]
        layers = overrides["nas_config"]["encoder_layers"]
    except (KeyError, TypeError) as exc:
        raise DataError(f"{where}: missing field {exc}; each record needs scores.glue and "
                        "hparams.model_hparam_overrides.{hidden_size, nas_config.encoder_layers}.") from None
    hidden = _positive_int(hidden, "hidden_size", where)
    if not isinstance(glue, (int, float)) or isinstance(glue, bool) or not math.isfinite(glue):
        raise DataError(f"{where}: scores.glue must be a finite number, got {glue!r}.")
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS:
        raise DataError(f"{where}: nas_config.encoder_layers must be a list of 1 to {MAX_LAYERS} layers.")
    config = {
        "hidden_size": hidden,
        "layers": [parse_layer(layer, hidden, f"{where}, layer {i}") for i, layer in enumerate(layers)],
    }
    return Arch(id=str(raw["id"]), config=config, target=float(glue), metrics=dict(raw["scores"]))


def load_flexibert(path: Path) -> list[Arch]:
    """Every architecture of the NAS-Bench-BERT JSON, validated; ids must be unique."""
    try:
        raw = read_json(path, "NAS-Bench-BERT benchmark", limit=256 * 2**20)
    except DataError as exc:
        raise DataError(f"{exc}; re-download it with 'zc-discover fetch nas-bench-bert'.") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON list of architecture records, got {type(raw).__name__}.")
    if not raw:
        raise DataError(f"{path} holds no architecture records; re-download it with 'zc-discover fetch "
                        "nas-bench-bert'.")
    records = [parse_record(item, i) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for arch in records:
        if arch.id in seen:
            raise DataError(f"{path}: architecture id {arch.id!r} appears more than once.")
        seen.add(arch.id)
    return records
