"""Recovery after pruning: does a ranking of sub-networks *as they are* predict their ranking after a short
fine-tune, as Shortened LLaMA (Kim et al. 2024) and LLM-Pruner (Ma et al. 2023) give their pruned models?

For a seeded subset of a stored pruning space (``RECOVERY["count"]`` candidates), each sub-network is fine-tuned
with LoRA adapters (peft) on every linear layer of its blocks - the papers' recovery, at this project's scale -
on the same seeded train windows for every candidate, then its loss is measured on the space's held-out windows.
Every candidate gets the same steps, batches, adapter seed and learning rate, so the only difference between two
recovered losses is the sub-network. Each candidate's record is kept as it is made (resumable); the finished table
is ``MODEL-KIND-recovered.csv.gz`` beside the space, with a ``.json`` of provenance that names the space it
samples (its weights, windows and version) and these settings; a stored table is used only when both match.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import cache, files
from ..benchmarks import trained
from ..benchmarks.pruning.evaluate import mean_loss
from ..benchmarks.pruning.space import subnetwork
from ..errors import ConfigError, DataError
from .calibration import head_count
from .model_text import SEQ_LEN, ModelText, model_text
from .space_values import gzip_csv, read_csv_gz, read_space, request, store_key, values_root

log = logging.getLogger(__name__)
RECOVERY_VERSION = 1     # bump when the fine-tune or the stored columns change
RECOVERY: dict[str, Any] = {"count": 50, "steps": 40, "batch": 8, "seq_len": SEQ_LEN, "lr": 1e-3, "rank": 8,
                            "alpha": 16, "seed": 0}
# every linear layer of a block, by the names the two families give them
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "c_attn", "c_proj",
                "c_fc")


def recovery_ids(arch_ids: list[str], count: int, seed: int) -> list[str]:
    """A seeded subset of ``count`` candidates (all of them where there are no more), in the space's order."""
    if count >= len(arch_ids):
        return list(arch_ids)
    chosen = np.random.default_rng(seed).choice(len(arch_ids), size=count, replace=False)
    return [arch_ids[i] for i in sorted(chosen.tolist())]


def recovery_request(folder: str | os.PathLike | ModelText, kind: str,
                     settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance a recovery table must carry: the space it samples and the fine-tune's settings (``RECOVERY``,
    updated by ``settings``; a ConfigError for a key it does not have)."""
    unknown = sorted(set(settings or {}) - set(RECOVERY))
    if unknown:
        raise ConfigError(f"unknown recovery setting {unknown[0]!r}; the settings are {', '.join(RECOVERY)}")
    return {"space": request(folder, kind), "settings": {**RECOVERY, **(settings or {})},
            "version": RECOVERY_VERSION}


def train_windows(train_ids: np.ndarray, settings: dict[str, Any]) -> torch.Tensor:
    """The fine-tune's batches, ``steps x batch`` windows drawn by one generator seeded by ``settings["seed"]``:
    the same text, in the same order, for every candidate."""
    seq, total = settings["seq_len"], settings["steps"] * settings["batch"]
    starts = np.random.default_rng(settings["seed"]).integers(0, len(train_ids) - seq - 1, total)
    rows = np.stack([train_ids[s:s + seq + 1].astype(np.int64) for s in starts])
    return torch.from_numpy(rows).view(settings["steps"], settings["batch"], seq + 1)


def recover(sub: torch.nn.Module, batches: torch.Tensor, settings: dict[str, Any]) -> torch.nn.Module:
    """Fine-tune LoRA adapters of ``sub`` (a pruned copy; changed in place) on ``batches`` and return the model with
    the adapters merged into its weights."""
    from peft import LoraConfig, get_peft_model
    present = {name.rsplit(".", 1)[-1] for name, _ in sub.named_modules()}
    targets = [t for t in LORA_TARGETS if t in present]
    torch.manual_seed(settings["seed"])      # the adapters' initialisation: the same for every candidate
    config = LoraConfig(r=settings["rank"], lora_alpha=settings["alpha"], lora_dropout=0.0, target_modules=targets,
                        fan_in_fan_out=sub.config.model_type == "gpt2")
    model = get_peft_model(sub, config)
    model.train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings["lr"],
                                  weight_decay=0.0)
    for batch in batches:
        logits = model(input_ids=batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    merged = model.merge_and_unload()
    merged.eval()
    return merged


def recovery_paths(root: Path, model: str, kind: str) -> tuple[Path, Path]:
    """The table and provenance files of a space's recovery, beside the space's own files."""
    stem = f"{model}-{kind}-recovered"
    return root / f"{stem}.csv.gz", root / f"{stem}.json"


def read_recovery(model: str, kind: str, root: str | os.PathLike | None = None,
                  expected: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The stored recovery table (arch_id, heldout_loss before, recovered_loss after) and its provenance; with
    ``expected``, a DataError when the provenance differs (other space, settings or code)."""
    root = Path(root) if root is not None else values_root()
    table_path, provenance_path = recovery_paths(root, model, kind)
    provenance = files.read_json(provenance_path, "recovery provenance")
    if not isinstance(provenance, dict) or not isinstance(provenance.get("request"), dict):
        raise DataError(f"{provenance_path}: no 'request' object; not a recovery table this project wrote")
    if expected is not None and json.dumps(expected, sort_keys=True) != json.dumps(provenance["request"],
                                                                                     sort_keys=True):
        raise DataError(f"{provenance_path}: made from another space, settings or code version than requested; "
                        "run experiments/pruning_recovery.py again")
    table = read_csv_gz(table_path, "recovery table")
    if len(table) != provenance.get("candidates") or not np.isfinite(table["recovered_loss"]).all():
        raise DataError(f"{table_path}: {len(table)} rows where its provenance counts {provenance.get('candidates')}"
                        ", or a loss that is not finite; the file is damaged")
    return table, provenance


def compute_recovery(folder: str | os.PathLike, kind: str, *, settings: dict[str, Any] | None = None,
                     root: str | os.PathLike | None = None, threads: int | None = None,
                     progress: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fine-tune a seeded subset of the stored space ``kind`` of the model in ``folder`` (read from ``root``,
    default ``data/values/pruning``, which must match the model) and store the table beside it. Returns (table,
    provenance)."""
    text = model_text(folder)
    req = recovery_request(text, kind, settings)
    settings = req["settings"]
    root = Path(root) if root is not None else values_root()
    candidates, _, space_provenance = read_space(req["space"]["model"], kind, root, expected=req["space"])
    if threads:
        torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    model, _ = trained.load_model(folder, task="causal-lm")
    heldout = text.heldout_windows()
    batches = train_windows(text.token_ids("train"), settings)
    n_heads = head_count(model)
    before = dict(zip(candidates["arch_id"], candidates["heldout_loss"]))
    ids = recovery_ids(list(candidates["arch_id"]), settings["count"], settings["seed"])
    store = cache.RecordStore(cache.cache_dir().parent / "pruning-recovery" / store_key(req), req)

    def measure(arch_id: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        recovered = recover(subnetwork(model, arch_id, n_heads), batches, settings)
        return {"recovered_loss": mean_loss(recovered, heldout), "seconds": time.perf_counter() - t0}

    measured = store.measure_all(ids, measure, label=f"{req['space']['model']} {kind} recovery",
                                 every=10 if progress else 0)
    rows = [{"arch_id": arch_id, "heldout_loss": float(before[arch_id]), **record} for arch_id, record in measured]
    table = pd.DataFrame(rows)
    provenance = {"request": req, "candidates": len(table), "full_heldout_loss": space_provenance["full_heldout_loss"],
                  "candidate_seconds": round(float(table["seconds"].mean()), 2),
                  "wall_seconds": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
                  "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    table_path, provenance_path = recovery_paths(root, req["space"]["model"], kind)
    files.write_text(table_path, gzip_csv(table))
    files.write_json(provenance_path, provenance)     # last: a reader never pairs it with older rows
    return table, provenance

