"""The tokenizer of the language-model text and its token ids, made once and cached with their digests.

A byte-level BPE tokenizer (Hugging Face ``tokenizers``) is trained on the ``train`` split only, so no held-out word
shapes the vocabulary. It and the token ids of each split are cached under ``$ZC_DISCOVER_CACHE/text``, each file
with the sha256 of its content and the identity of the text it came from; a file that does not match is reported and
made again, never used. Ids are stored as ``.npy`` read with ``allow_pickle=False``: nothing cached can run code.

Every model of this project that reads real text uses ``tokenizer()``: its ``digest`` goes into the card of every
model trained on it and into the provenance of every value measured with it.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import files
from ..cache import cache_dir
from ..errors import DataError
from .corpus import LM_CORPORA, SPLITS, lm_digest, lm_documents

log = logging.getLogger(__name__)

VOCAB_SIZE = 4096
SPECIAL_TOKENS = ("<|endoftext|>", "<pad>", "<mask>")   # ids 0, 1, 2: end of document, padding, masked-LM mask
EOS_ID, PAD_ID, MASK_ID = 0, 1, 2
MASK_FRACTION = 0.15   # BERT's share of masked positions


def mask_positions(shape: tuple[int, ...], seed: int):
    """Which positions of a batch of token ids are masked: 15%, drawn by a torch generator seeded by ``seed``, at
    least one per row (the masked-LM probe, few-step training and the encoder all draw their masks here)."""
    import torch   # only the callers that mask need it
    generator = torch.Generator().manual_seed(int(seed))
    chosen = torch.rand(tuple(shape), generator=generator) < MASK_FRACTION
    chosen[:, 0] |= ~chosen.any(dim=1)
    return chosen
MAX_TOKENIZER_BYTES = 8 * 2**20


@dataclass(frozen=True)
class TextTokenizer:
    """A trained tokenizer with the identity of what made it.

    ``digest`` is the sha256 of its JSON (what model cards and values provenance record); ``corpus`` the digest of
    the text it was trained on (``corpus.lm_digest``)."""

    json: str
    digest: str
    corpus: str
    vocab_size: int

    @property
    def backend(self):
        """The ``tokenizers.Tokenizer`` (parsed from JSON: no code is loaded)."""
        return _parse(self.json)

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``."""
        return self.backend.encode(text).ids

    def decode(self, ids) -> str:
        """The text of token ids."""
        return self.backend.decode([int(i) for i in ids])


@lru_cache(maxsize=4)
def _parse(text: str):
    from tokenizers import Tokenizer
    return Tokenizer.from_str(text)


def _text_cache() -> Path:
    return cache_dir().parent / "text" if cache_dir().name == "features" else cache_dir() / "text"


def _train(texts: list[str], vocab_size: int) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer.to_str()


def _read_entry(path: Path, identity: dict) -> dict | None:
    """A cache entry written by ``_write_entry`` whose identity and digest match, else None (reported once)."""
    if not path.is_file():
        return None
    try:
        entry = files.read_json(path, "text cache entry", limit=MAX_TOKENIZER_BYTES * 4)
        ok = isinstance(entry, dict) and entry.get("identity") == identity and \
            hashlib.sha256(entry["content"].encode()).hexdigest() == entry["sha256"]
    except (DataError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        log.warning("text cache %s is damaged or was made from other text; making it again", path)
        return None
    return entry


def tokenizer(vocab_size: int = VOCAB_SIZE, folder: str | os.PathLike | None = None,
              offline: bool | None = None, corpora: tuple[str, ...] = LM_CORPORA) -> TextTokenizer:
    """The byte-level BPE tokenizer trained on the ``train`` split (made on first use, about 20 s; then cached).

    Parameters
    ----------
    vocab_size : int
        Vocabulary size, special tokens included (``<|endoftext|>``, ``<pad>``, ``<mask>`` are ids 0, 1, 2).
    folder : path, optional
        The corpora folder (default ``corpus.corpora_dir()``).
    offline : bool, optional
        Never download a missing corpus (default ``$ZC_DISCOVER_OFFLINE``).
    corpora : tuple of str
        Which corpora make the text (default the four of ``LM_CORPORA``; tests use a smaller one).

    Returns
    -------
    TextTokenizer
    """
    if not 256 + len(SPECIAL_TOKENS) < vocab_size <= 65_536:
        raise DataError(f"vocab_size {vocab_size}: a byte-level BPE needs more than {256 + len(SPECIAL_TOKENS)} "
                        "tokens, and ids are stored as 16-bit integers (at most 65,536)")
    corpus = lm_digest(corpora)
    identity = {"kind": "tokenizer", "corpus": corpus, "vocab_size": vocab_size, "special": list(SPECIAL_TOKENS)}
    path = _text_cache() / f"tokenizer-{corpus[:16]}-{vocab_size}.json"
    entry = _read_entry(path, identity)
    if entry is None:
        docs = lm_documents("train", folder, offline, corpora)
        content = _train([doc.text for doc in docs], vocab_size)
        entry = {"identity": identity, "sha256": hashlib.sha256(content.encode()).hexdigest(), "content": content}
        files.write_json(path, entry)
        log.info("trained the tokenizer on %d train documents (%s)", len(docs), path)
    return TextTokenizer(json=entry["content"], digest=entry["sha256"], corpus=corpus, vocab_size=vocab_size)


def token_ids(split: str, tok: TextTokenizer | None = None, folder: str | os.PathLike | None = None,
              offline: bool | None = None, corpora: tuple[str, ...] = LM_CORPORA,
              eos: int | None = EOS_ID) -> np.ndarray:
    """The token ids of one split: its documents in order, each followed by ``eos`` (this project's
    ``<|endoftext|>`` unless another tokenizer's end id is given; None: nothing between documents), cached.
    uint16 where the vocabulary fits, else uint32.

    Examples
    --------
    >>> ids = token_ids("heldout")                          # doctest: +SKIP
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; the text has {', '.join(SPLITS)}")
    tok = tok or tokenizer(folder=folder, offline=offline, corpora=corpora)
    # another end id is part of the identity (and the name), so ids made with one are never read for another
    own_eos = {} if eos == EOS_ID else {"eos": eos}
    identity = {"kind": "ids", "split": split, "corpus": tok.corpus, "tokenizer": tok.digest, **own_eos}
    stem = _text_cache() / (f"ids-{split}-{tok.corpus[:12]}-{tok.digest[:12]}" +
                            ("" if not own_eos else f"-eos{'none' if eos is None else eos}"))
    data_path, entry_path = stem.with_suffix(".npy"), stem.with_suffix(".json")
    entry = _read_entry(entry_path, identity)
    if entry is not None and data_path.is_file():
        raw = files.read_bytes(data_path, "cached token ids", limit=1 << 31)
        if hashlib.sha256(raw).hexdigest() == json.loads(entry["content"])["npy_sha256"]:
            return np.load(io.BytesIO(raw), allow_pickle=False)
        log.warning("cached token ids %s do not match their digest; tokenizing again", data_path)
    docs = lm_documents(split, folder, offline, corpora)
    backend = tok.backend
    dtype = np.uint16 if max(tok.vocab_size, 0 if eos is None else eos + 1) <= 2**16 else np.uint32
    pieces, end = [], np.asarray([] if eos is None else [eos], dtype=dtype)
    for encoding in backend.encode_batch([doc.text for doc in docs]):
        pieces.extend([np.asarray(encoding.ids, dtype=dtype), end])
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    buffer = io.BytesIO()
    np.save(buffer, ids, allow_pickle=False)
    raw = buffer.getvalue()
    files.write_text(data_path, raw)
    content = json.dumps({"npy_sha256": hashlib.sha256(raw).hexdigest(), "documents": len(docs), "tokens": len(ids)})
    files.write_json(entry_path, {"identity": identity, "sha256": hashlib.sha256(content.encode()).hexdigest(),
                                  "content": content})
    return ids
