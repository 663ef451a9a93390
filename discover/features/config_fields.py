"""The fields of an architecture's config that every shipped space shares, as numbers: what a supervised regression
on the config (``proxies.supervised``) reads.

``log_params_*`` (non-embedding, attention, FFN, embedding; from the models' shapes), ``n_layers``, ``width`` (the
model dimension), ``heads`` (attention heads per layer, averaged over layers) and ``ffn_ratio`` (FFN width over model
width, averaged over layers). Width, heads and FFN width are read from the config by the names the families use
(FlexiBERT ``hidden_size`` and per-layer ``num_operation_heads`` / ``feed_forward_dimension``; LTS ``d_model``,
``n_head``, ``d_inner``; Hugging Face ``hidden_size`` / ``n_embd`` / ``d_model`` and their heads and FFN names); a
field a config does not hold is NaN, and a regression then leaves it out.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

CONFIG_FIELDS = ("log_params_nonembedding", "log_params_attention", "log_params_ffn", "log_params_embedding",
                 "n_layers", "width", "heads", "ffn_ratio")
WIDTH_KEYS = ("hidden_size", "d_model", "n_embd")
HEAD_KEYS = ("n_head", "num_attention_heads", "num_heads", "encoder_attention_heads")
FFN_KEYS = ("d_inner", "intermediate_size", "n_inner", "ffn_dim", "d_ff", "encoder_ffn_dim")


def _mean(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, (list, tuple)):
        numbers = [float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return float(np.mean(numbers)) if numbers else math.nan
    return float(value) if isinstance(value, (int, float)) else math.nan


def _first(config: dict, keys: tuple[str, ...]) -> float:
    for key in keys:
        if key in config:
            return _mean(config[key])
    return math.nan


def width_heads_ffn(config: dict[str, Any]) -> tuple[float, float, float]:
    """(model width, mean heads per layer, mean FFN width) of one config, NaN where it does not say."""
    config = config.get("hf", config) if isinstance(config.get("hf"), dict) else config
    width, heads, ffn = _first(config, WIDTH_KEYS), _first(config, HEAD_KEYS), _first(config, FFN_KEYS)
    layers = config.get("layers")
    if isinstance(layers, list) and layers and all(isinstance(layer, dict) for layer in layers):   # FlexiBERT
        heads = _mean([layer.get("num_operation_heads") for layer in layers])
        ffn = _mean([layer.get("feed_forward_dimension") for layer in layers])
    if math.isnan(ffn) and not math.isnan(width) and config.get("n_inner", 0) is None:
        ffn = 4 * width   # GPT-2's n_inner None: 4 x the width
    return width, heads, ffn


def config_fields(structure: pd.DataFrame, configs: dict[str, dict]) -> pd.DataFrame:
    """``CONFIG_FIELDS`` of the rows of ``structure`` (``features.structure_table`` or a feature table), whose
    configs ``configs`` maps by architecture id."""
    rows = []
    for row in structure.itertuples(index=False):
        width, heads, ffn = width_heads_ffn(configs[str(row.arch_id)])
        rows.append({"arch_id": str(row.arch_id),
                     **{f"log_params_{part}": math.log(max(float(getattr(row, f"params_{part}")), 1.0))
                        for part in ("nonembedding", "attention", "ffn", "embedding")},
                     "n_layers": float(row.n_layers), "width": width, "heads": heads,
                     "ffn_ratio": ffn / width if width and not math.isnan(width) else math.nan})
    return pd.DataFrame(rows, columns=["arch_id", *CONFIG_FIELDS])


__all__ = ["CONFIG_FIELDS", "config_fields", "width_heads_ffn"]
