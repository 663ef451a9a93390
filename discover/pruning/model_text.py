"""The text a pruning space measures a model on, in the model's own tokens.

A reference model (its card names this project's tokenizer) reads the corpus's token ids as every other part of the
project does (``text.token_ids``, cached). A user's own model reads them through the ``tokenizer.json`` of its folder
(parsed from JSON by ``tokenizers``: no code runs), so its held-out and calibration windows are the same documents in
its own vocabulary. Either way the tokenizer's digest goes into a space's provenance, so values measured through one
tokenizer are never reused for another.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from .. import files
from ..benchmarks import trained
from ..benchmarks.pruning.evaluate import windows
from ..errors import DataError
from ..text import lm_digest, lm_documents, token_ids, tokenizer

HELDOUT_WINDOWS = 48
CALIBRATION_WINDOWS = 32
SEQ_LEN = 128
TOKENIZER = "tokenizer.json"
MAX_TOKENIZER_BYTES = 64 * 2**20


def _own_tokenizer(folder: Path) -> Path | None:
    """The folder's ``tokenizer.json``, or None for a reference model (its card names this project's tokenizer;
    a DataError where that is no longer the corpus's)."""
    card = trained.read_card(folder, required=False)
    if card is not None:
        if card.tokenizer != tokenizer().digest:
            raise DataError(f"{folder}: trained with tokenizer {card.tokenizer[:12]}, but the corpus now gives "
                            f"{tokenizer().digest[:12]}; rebuild the model (python "
                            "experiments/build_reference_models.py)")
        return None
    path = folder / TOKENIZER
    if not path.exists():
        raise DataError(f"{path} is missing: a model of your own reads the text through its own tokenizer; save it "
                        f"beside the weights (tokenizer.save_pretrained(folder) writes {TOKENIZER})")
    return path


def tokenizer_digest(folder: str | os.PathLike) -> str:
    """sha256 identity of the tokenizer the model in ``folder`` reads the text through (a reference model's card
    records it; a model of your own: its ``tokenizer.json``'s bytes)."""
    folder = Path(folder)
    card = trained.read_card(folder, required=False)
    if card is not None:
        return card.tokenizer
    path = _own_tokenizer(folder)
    return hashlib.sha256(files.read_bytes(path, "tokenizer", MAX_TOKENIZER_BYTES, root=folder)).hexdigest()


def corpus_digest(folder: str | os.PathLike) -> str:
    """The identity of the text: the card's corpus for a reference model, else the corpus every space reads."""
    card = trained.read_card(folder, required=False)
    return card.corpus if card is not None else lm_digest()


def model_token_ids(folder: str | os.PathLike, split: str) -> np.ndarray:
    """The token ids of one split of the corpus (``train``, ``calibration``, ``heldout``) in the model's tokens."""
    folder = Path(folder)
    path = _own_tokenizer(folder)
    if path is None:
        return token_ids(split)
    from tokenizers import Tokenizer
    backend = Tokenizer.from_str(files.read_bytes(path, "tokenizer", MAX_TOKENIZER_BYTES, root=folder).decode())
    config = files.read_json(folder / "config.json", "model config", root=folder)
    # each document followed by the end-of-text token, as text.token_ids does: the model's own, else the tokenizer's
    eos = config.get("eos_token_id") if isinstance(config, dict) else None
    eos = eos if isinstance(eos, int) and not isinstance(eos, bool) else backend.token_to_id("<|endoftext|>")
    pieces = []
    for encoding in backend.encode_batch([doc.text for doc in lm_documents(split)]):
        pieces.extend([encoding.ids, [] if eos is None else [eos]])
    ids = np.fromiter((i for piece in pieces for i in piece), dtype=np.int64)
    vocab = config.get("vocab_size") if isinstance(config, dict) else None
    if isinstance(vocab, int) and ids.size and int(ids.max()) >= vocab:
        raise DataError(f"{path}: gives token id {int(ids.max())}, but {folder / 'config.json'} has vocab_size "
                        f"{vocab}; this is not the model's tokenizer")
    return ids


def model_windows(folder: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out and calibration windows every pruning space measures a model on, in its tokens."""
    return (windows(model_token_ids(folder, "heldout"), SEQ_LEN, HELDOUT_WINDOWS),
            windows(model_token_ids(folder, "calibration"), SEQ_LEN, CALIBRATION_WINDOWS))
