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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import files, schemas
from ..benchmarks import trained
from ..benchmarks.pruning.evaluate import windows
from ..errors import DataError
from ..text import EOS_ID, TextTokenizer, lm_digest, token_ids, tokenizer

HELDOUT_WINDOWS = 48
CALIBRATION_WINDOWS = 32
SEQ_LEN = 128
TOKENIZER = "tokenizer.json"
MAX_TOKENIZER_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ModelText:
    """How the model in ``folder`` reads the corpus, read off the folder once: its card (a reference model, or
    None) and the tokenizer it reads the text through, with the id that ends each document."""

    folder: Path
    card: schemas.ModelCard | None
    tokenizer: TextTokenizer
    eos: int | None
    vocab_size: int | None

    @property
    def corpus(self) -> str:
        """The identity of the text: the card's corpus for a reference model, else the corpus every space reads."""
        return self.card.corpus if self.card is not None else lm_digest()

    def token_ids(self, split: str) -> np.ndarray:
        """The token ids of one split of the corpus (``train``, ``calibration``, ``heldout``) in the model's tokens
        (cached, as ``text.token_ids`` caches the project's own)."""
        ids = token_ids(split, self.tokenizer, eos=self.eos)
        if self.vocab_size is not None and ids.size and int(ids.max()) >= self.vocab_size:
            raise DataError(f"{self.folder / TOKENIZER}: gives token id {int(ids.max())}, but "
                            f"{self.folder / 'config.json'} has vocab_size {self.vocab_size}; this is not the "
                            "model's tokenizer")
        return ids

    def heldout_windows(self) -> torch.Tensor:
        """The held-out windows every pruning space measures a model's loss on."""
        return windows(self.token_ids("heldout"), SEQ_LEN, HELDOUT_WINDOWS)

    def calibration_windows(self) -> torch.Tensor:
        """The calibration windows the criteria that read activations measure on."""
        return windows(self.token_ids("calibration"), SEQ_LEN, CALIBRATION_WINDOWS)


def model_text(folder: str | os.PathLike) -> ModelText:
    """The text source of the model in ``folder``: a reference model (its card names this project's tokenizer; a
    DataError where that is no longer the corpus's) reads the project's token ids; a model of your own reads the
    corpus through its folder's ``tokenizer.json``, each document ended by its config's ``eos_token_id`` (else the
    tokenizer's ``<|endoftext|>``)."""
    folder = Path(folder)
    card = trained.read_card(folder, required=False)
    if card is not None:
        own = tokenizer()
        if card.tokenizer != own.digest:
            raise DataError(f"{folder}: trained with tokenizer {card.tokenizer[:12]}, but the corpus now gives "
                            f"{own.digest[:12]}; rebuild the model (python experiments/build_reference_models.py)")
        return ModelText(folder, card, own, EOS_ID, None)
    path = folder / TOKENIZER
    if not path.exists():
        raise DataError(f"{path} is missing: a model of your own reads the text through its own tokenizer; save it "
                        f"beside the weights (tokenizer.save_pretrained(folder) writes {TOKENIZER})")
    raw = files.read_bytes(path, "tokenizer", MAX_TOKENIZER_BYTES, root=folder)
    try:
        text = raw.decode()
        from tokenizers import Tokenizer
        backend = Tokenizer.from_str(text)
    except Exception as error:   # a bad file: tokenizers raises a bare Exception, bytes a UnicodeDecodeError
        raise DataError(f"{path}: not a tokenizer the tokenizers library reads ({str(error)[:120]})") from None
    config = files.read_json(folder / "config.json", "model config", root=folder)
    config = config if isinstance(config, dict) else {}

    def integer(value):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    eos = integer(config.get("eos_token_id"))
    eos = eos if eos is not None else backend.token_to_id("<|endoftext|>")
    tok = TextTokenizer(json=text, digest=hashlib.sha256(raw).hexdigest(), corpus=lm_digest(),
                        vocab_size=backend.get_vocab_size())
    return ModelText(folder, None, tok, eos, integer(config.get("vocab_size")))


def tokenizer_digest(folder: str | os.PathLike) -> str:
    """sha256 identity of the tokenizer the model in ``folder`` reads the text through (a reference model's card
    records it; a model of your own: its ``tokenizer.json``'s bytes)."""
    return model_text(folder).tokenizer.digest


def model_windows(folder: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out and calibration windows every pruning space measures a model on, in its tokens."""
    text = model_text(folder)
    return text.heldout_windows(), text.calibration_windows()
