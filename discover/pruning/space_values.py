"""A pruning space measured once: every candidate's exact held-out loss, its calibration loss, its weight features,
and the reference model's unit statistics - stored with the provenance that made them.

Computing a space costs one surgery, two forward passes (held-out and calibration windows) and one featurizing per
candidate, plus ``calibration.unit_statistics`` once. Each candidate's row is kept as it is made (a record folder
keyed by the whole provenance), so an interrupted computation continues where it stopped; the finished space is a
``.csv.gz`` of candidates, a ``.csv.gz`` of units and a ``.json`` of provenance under ``data/values/pruning``. A
stored space is used only when its provenance equals the request (same weights, text, tokenizer, windows, code of
this module's definitions); otherwise it is computed again.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import cache, files
from ..benchmarks import hf, trained
from ..benchmarks.pruning.evaluate import mean_loss
from ..benchmarks.pruning.mixed import mixed_ids
from ..benchmarks.pruning.space import KINDS, blocks_of, parse_id, space_ids, subnetwork
from ..errors import DataError
from ..features.table import featurize_model
from .calibration import head_count, unit_statistics
from .model_text import CALIBRATION_WINDOWS, HELDOUT_WINDOWS, SEQ_LEN, ModelText, model_text

log = logging.getLogger(__name__)
VALUES_VERSION = 1          # bump when a stored column's definition changes
MIXED_VERSION = 1           # bump when the mixed sampler or its budget changes (only mixed spaces are recomputed)
LIMITS = {"depth": 300, "heads": 100, "ffn": 100, "mixed": 200}
MIXED_SHARE = 0.25          # a mixed space's candidates each remove this share of the blocks' weights
MAX_VALUES_BYTES = 32 * 2**20     # a stored space, compressed and expanded


def values_root() -> Path:
    """``data/values/pruning`` of the source tree (where the stored spaces are committed)."""
    return Path(__file__).resolve().parents[2] / "data" / "values" / "pruning"


def model_name(folder: str | os.PathLike | ModelText) -> str:
    """The name a model's spaces are stored under: a reference model's card name, else its folder's name (letters,
    digits, ``.``, ``_`` and ``-`` kept, anything else a ``-``)."""
    text = folder if isinstance(folder, ModelText) else model_text(folder)
    if text.card is not None:
        return text.card.name
    name = re.sub(r"[^0-9A-Za-z._-]", "-", text.folder.resolve().name).strip(".-") or "model"
    return name[:60]


def request(folder: str | os.PathLike | ModelText, kind: str, limit: int | None = None,
            seed: int = 0) -> dict[str, Any]:
    """The provenance a space of ``kind`` of the model in ``folder`` (or its ``model_text``, read once) must carry
    to be reused."""
    if kind not in KINDS:
        raise DataError(f"unknown pruning kind {kind!r}; one of {', '.join(KINDS)}")
    text = folder if isinstance(folder, ModelText) else model_text(folder)
    return {"model": model_name(text), "kind": kind, "weights_sha256": trained.weights_digest(text.folder),
            "corpus": text.corpus, "tokenizer": text.tokenizer.digest, "heldout_windows": HELDOUT_WINDOWS,
            "calibration_windows": CALIBRATION_WINDOWS, "seq_len": SEQ_LEN,
            "limit": LIMITS[kind] if limit is None else int(limit), "seed": int(seed), "version": VALUES_VERSION,
            **({"share": MIXED_SHARE, "mixed_version": MIXED_VERSION} if kind == "mixed" else {})}


def candidate_features(model: torch.nn.Module, arch_id: str, n_heads: int,
                       memo: dict | None = None) -> tuple[torch.nn.Module, dict[str, float]]:
    """The sub-network ``arch_id`` of ``model`` and its weight features (``features.table.featurize_model``). The
    candidates of one model share its untouched matrices: with one ``memo`` for them all, each is measured once."""
    sub = subnetwork(model, arch_id, n_heads)
    hf.tag_model(sub)
    return sub, featurize_model(sub, memo)


def _paths(root: Path, model: str, kind: str) -> tuple[Path, Path, Path]:
    stem = root / f"{model}-{kind}"
    return stem.with_suffix(".csv.gz"), root / f"{model}-{kind}-units.csv.gz", stem.with_suffix(".json")


def space_files(model: str, kind: str, root: str | os.PathLike | None = None) -> tuple[Path, Path, Path]:
    """The candidates, units and provenance files of a stored space (under ``root``, default ``values_root()``)."""
    return _paths(Path(root) if root is not None else values_root(), model, kind)


def read_csv_gz(path: Path, what: str, raw: bytes | None = None) -> pd.DataFrame:
    """A stored gzip CSV this project wrote (its bytes ``raw`` where already read), bounded in size compressed and
    expanded; a DataError naming ``path`` and ``what`` it should hold for a file that is not one."""
    raw = files.read_bytes(path, what, MAX_VALUES_BYTES) if raw is None else raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
            data = handle.read(MAX_VALUES_BYTES + 1)
    except (OSError, EOFError) as error:
        raise DataError(f"{path} ({what}): not a readable gzip file ({error})") from None
    if len(data) > MAX_VALUES_BYTES:
        raise DataError(f"{path} ({what}): expands past {MAX_VALUES_BYTES:,} bytes; it is not one this project wrote")
    try:
        return pd.read_csv(io.BytesIO(data), dtype={"arch_id": str, "unit": str})
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path} ({what}): not a readable table ({str(error).splitlines()[0]})") from None


def read_space(model: str, kind: str, root: str | os.PathLike | None = None,
               expected: dict[str, Any] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The stored space (candidates, units, provenance) of ``model`` and ``kind``; with ``expected``, a DataError
    when its provenance differs in any field (so values of other weights or settings are never mixed in).
    ``candidates.attrs["files_sha256"]`` is the sha256 of the three files' bytes as read (what a run folder
    records as the space's checksum): each file is read once, so the digest is of the values parsed."""
    root = Path(root) if root is not None else values_root()
    candidates_path, units_path, provenance_path = _paths(root, model, kind)
    # the provenance first: a space that is not there is named by the file that says what it is
    raw = {path: files.read_bytes(path, what, MAX_VALUES_BYTES) for path, what in
           ((provenance_path, "pruning space provenance"), (candidates_path, "pruning candidates"),
            (units_path, "pruning units"))}
    try:
        provenance = files.parse_json(raw[provenance_path].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{provenance_path} (pruning space provenance): not valid JSON "
                        f"({str(error).splitlines()[0][:120]})") from None
    if not isinstance(provenance, dict) or not isinstance(provenance.get("request"), dict):
        raise DataError(f"{provenance_path}: no 'request' object; not a pruning space this project wrote")
    if expected is not None:
        differ = sorted(k for k in set(expected) | set(provenance["request"])
                        if expected.get(k) != provenance["request"].get(k))
        if differ:
            raise DataError(f"{provenance_path}: made with other {', '.join(differ)} than requested "
                            f"({differ[0]}: stored {provenance['request'].get(differ[0])!r}, requested "
                            f"{expected.get(differ[0])!r}); compute the space again")
    candidates = read_csv_gz(candidates_path, "pruning candidates", raw[candidates_path])
    units = read_csv_gz(units_path, "pruning units", raw[units_path]).set_index("unit")
    if len(candidates) != provenance.get("candidates") or not np.isfinite(candidates["heldout_loss"]).all():
        raise DataError(f"{candidates_path}: {len(candidates)} rows where its provenance counts "
                        f"{provenance.get('candidates')}, or a loss that is not finite; the file is damaged")
    candidates.attrs["files_sha256"] = hashlib.sha256(b"".join(raw[path] for path in
                                                                (candidates_path, units_path, provenance_path))
                                                      ).hexdigest()
    return candidates, units, provenance


def store_key(req: dict[str, Any]) -> str:
    """The record folder's name of a computation: a digest of its whole request, so another request never resumes
    from its records."""
    return hashlib.sha256(json.dumps(req, sort_keys=True).encode()).hexdigest()[:20]


def compute_space(folder: str | os.PathLike, kind: str, *, limit: int | None = None, seed: int = 0,
                  out: str | os.PathLike | None = None, threads: int | None = None,
                  progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Measure every candidate of one pruning space of the reference model in ``folder`` and store it (under
    ``out``, default ``data/values/pruning``). Resumable: candidates already measured under the same provenance are
    read back. Returns (candidates, units, provenance)."""
    text = model_text(folder)
    req = request(text, kind, limit, seed)
    if threads:
        torch.set_num_threads(int(threads))
    started = time.perf_counter()
    model, _ = trained.load_model(folder, task="causal-lm")
    heldout, calibration = text.heldout_windows(), text.calibration_windows()
    n_heads = head_count(model)
    unit_started = time.perf_counter()
    units = unit_statistics(model, calibration, kind)
    unit_seconds = time.perf_counter() - unit_started
    ids = mixed_ids(model, n_heads, req["share"], req["limit"], seed) if kind == "mixed" else \
        space_ids(kind, len(blocks_of(model)), n_heads, limit=req["limit"], seed=seed)
    full_weights = sum(p.numel() for p in model.parameters())
    store = cache.RecordStore(cache.cache_dir().parent / "pruning" / store_key(req), req)
    memo: dict = {}   # the candidates share the model's untouched matrices: each is measured by one SVD

    def measure(arch_id: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        sub, features = candidate_features(model, arch_id, n_heads, memo)
        features_seconds = time.perf_counter() - t0
        heldout_loss = mean_loss(sub, heldout)
        calibration_loss = mean_loss(sub, calibration)
        seconds_loss = time.perf_counter() - t0 - features_seconds
        # a mixed space's candidates are one size (its budget, in percent): one equal-size group
        return {"heldout_loss": heldout_loss, "calibration_loss": calibration_loss,
                "removed": round(100 * req["share"]) if kind == "mixed" else len(parse_id(arch_id)[1]),
                "removed_weights": full_weights - sum(p.numel() for p in sub.parameters()),
                "loss_seconds": seconds_loss, "seconds": time.perf_counter() - t0,
                **{k: float(v) for k, v in features.items() if np.isfinite(v)}}

    measured = store.measure_all(ids, measure, label=f"{req['model']} {kind} candidates", every=25 if progress else 0)
    rows = [{"arch_id": arch_id, **record} for arch_id, record in measured]
    candidates = pd.DataFrame(rows)
    provenance = {"request": req, "candidates": len(candidates), "units": len(units),
                  "calibration_loss": units.attrs["calibration_loss"],
                  "full_heldout_loss": mean_loss(model, heldout), "unit_seconds": round(unit_seconds, 2),
                  "candidate_seconds": round(float(candidates["seconds"].mean()), 3),
                  "wall_seconds": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
                  "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    write_space(candidates, units, provenance, out)
    return candidates, units, provenance


def write_space(candidates: pd.DataFrame, units: pd.DataFrame, provenance: dict[str, Any],
                out: str | os.PathLike | None = None) -> Path:
    """Write a space's three files atomically (the provenance last, so a reader never pairs it with older rows)."""
    root = Path(out) if out is not None else values_root()
    req = provenance["request"]
    candidates_path, units_path, provenance_path = _paths(root, req["model"], req["kind"])
    for table, path in ((candidates, candidates_path), (units.reset_index(), units_path)):
        files.write_text(path, gzip_csv(table))
    files.write_json(provenance_path, provenance)
    return provenance_path


def gzip_csv(table: pd.DataFrame) -> bytes:
    """A table as gzip-compressed CSV bytes with no timestamp in the header (the same rows give the same bytes)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(table.to_csv(index=False, float_format="%.10g").encode())
    return buffer.getvalue()
