"""Train a LoNAS super-adapter on a sentence task, store it, and measure its sub-networks' accuracy (issue #29).

Training follows LoNAS: the base stays frozen; at every step one sub-network is active - the largest at every
``largest_every``-th step (so the super-network, the space's top, is trained as well as any), otherwise one drawn at
random by a generator seeded by ``seed`` - and the adapters and the head take an AdamW step on its cross-entropy.
Batches are drawn by the same generator from the task's train split; sentences are cut to ``max_tokens`` tokens.
Deterministic torch algorithms and a fixed thread count, as for the reference models: the same seed gives the same
super-adapter on the same machine.

A stored super-adapter is a folder: ``adapter.safetensors`` (the adapters and the head: never a pickle) and
``adapter.json`` (``AdapterCard``: the base model's folder name and weights digest, the task and its split's digest,
the space, the training settings, the dev accuracy of the largest and smallest sub-networks, the wall time and the
code versions). ``load_super_adapter`` refuses a folder whose base or task differs from what the card names.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .. import files
from ..errors import DataError
from ..text import PAD_ID, Example, TaskSplits, TextTokenizer
from .elastic import ElasticEncoder, ElasticSpace, SubNetwork, largest, random_subnetwork, smallest

log = logging.getLogger(__name__)

WEIGHTS, CARD = "adapter.safetensors", "adapter.json"
# 600 steps reached dev accuracy 0.622 (largest) / 0.587 (smallest) on sentence_polarity, 2000 steps 0.635 / 0.628
# (734 s on two cores); lr 3e-3 and 1e-2 stay at chance (0.500) after 1000 steps
TRAINING = {"steps": 2000, "batch": 32, "lr": 1e-3, "weight_decay": 0.0, "largest_every": 4, "max_tokens": 64,
            "seed": 0, "clip": 1.0}
ADAPTER_VERSION = 1   # bump when training or the sub-network rule changes: stored targets name it


def _padded(rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-id rows padded with ``PAD_ID`` to the longest, and their attention masks."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


def _token_rows(tok: TextTokenizer, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    return [enc.ids[:max_tokens] or [PAD_ID] for enc in tok.backend.encode_batch(list(texts))]


def encode_sentences(tok: TextTokenizer, texts: Sequence[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (padded with ``PAD_ID``) and attention masks of ``texts``, each cut to ``max_tokens``."""
    return _padded(_token_rows(tok, texts, max_tokens))


@torch.no_grad()
def predict(model: torch.nn.Module, tok: TextTokenizer, texts: Sequence[str], max_tokens: int = TRAINING["max_tokens"],
            batch: int = 128) -> np.ndarray:
    """Class probabilities of ``texts`` (rows in their order) under ``model``: an ``ElasticEncoder`` (its active
    sub-network) or a ``SubNetworkClassifier``. Sentences are batched by length, so that a batch pads little."""
    model.eval()
    device = next(model.parameters()).device
    rows = _token_rows(tok, texts, max_tokens)
    order = np.argsort([len(r) for r in rows], kind="stable")
    out = torch.zeros((len(rows), model.head.out_features))
    for start in range(0, len(rows), batch):
        chosen = order[start:start + batch]
        ids, mask = _padded([rows[i] for i in chosen])
        out[torch.as_tensor(chosen)] = torch.softmax(model(ids.to(device), mask.to(device)), -1).cpu()
    return out.numpy()


def accuracy(model: torch.nn.Module, tok: TextTokenizer, examples: Sequence[Example], sub: SubNetwork | None = None,
             max_tokens: int = TRAINING["max_tokens"]) -> float:
    """Accuracy on ``examples`` of ``model`` (an ``ElasticEncoder`` with sub-network ``sub`` made active when given,
    or a ``SubNetworkClassifier``)."""
    if sub is not None:
        model.use(sub)
    probs = predict(model, tok, [e.text for e in examples], max_tokens)
    return float(np.mean(probs.argmax(1) == np.array([e.label for e in examples])))


def train_super_adapter(base: torch.nn.Module, base_digest: str, task: TaskSplits, tok: TextTokenizer,
                        space: ElasticSpace = ElasticSpace(), *, steps: int | None = None, threads: int = 2,
                        settings: dict[str, Any] | None = None, log_every: int = 100) -> tuple[ElasticEncoder, dict]:
    """Train a super-adapter on ``task``'s train split; returns the model and what to write in its card.

    Parameters
    ----------
    base : transformers model
        The encoder's base model (a masked LM's ``base_model``), frozen in place.
    base_digest : str
        The sha256 of the base's weights file (``trained.weights_digest``): the card names it, and a stored
        super-adapter is loaded on that base only.
    steps, settings : optional
        Overrides of ``TRAINING`` (the tests' few steps).
    """
    run = dict(TRAINING, **(settings or {}))
    if steps is not None:
        run["steps"] = int(steps)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    model = ElasticEncoder(base, len(task.labels), space, seed=run["seed"])
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=run["lr"], weight_decay=run["weight_decay"])
    rng = np.random.default_rng(run["seed"])
    top = largest(space, model.config)
    texts = [e.text for e in task.train]
    labels = torch.tensor([e.label for e in task.train])
    started, recent = time.perf_counter(), []
    for step in range(run["steps"]):
        model.train()
        model.use(top if step % run["largest_every"] == 0 else random_subnetwork(space, model.config, rng))
        rows = rng.integers(0, len(texts), run["batch"])
        ids, mask = encode_sentences(tok, [texts[i] for i in rows], run["max_tokens"])
        loss = torch.nn.functional.cross_entropy(model(ids, mask), labels[rows])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, run["clip"])
        optimiser.step()
        recent = (recent + [loss.item()])[-50:]
        if log_every and (step + 1) % log_every == 0:
            log.info("%s step %d/%d loss %.3f (%.0f s)", task.name, step + 1, run["steps"], np.mean(recent),
                     time.perf_counter() - started)
    seconds = time.perf_counter() - started
    dev = {"largest": accuracy(model, tok, task.dev, top),
           "smallest": accuracy(model, tok, task.dev, smallest(space, model.config))}
    model.use(top)
    card = {"base_sha256": base_digest, "task": task.name, "labels": list(task.labels), "task_digest": task.digest, "task_seed": task.seed, "space": asdict(space),
            "training": run, "threads": threads, "train_loss": float(np.mean(recent)) if recent else float("nan"),
            "dev_accuracy": dev, "train_seconds": round(seconds, 1), "tokenizer": tok.digest,
            "adapter_version": ADAPTER_VERSION}
    return model, card


def save_super_adapter(folder: str | os.PathLike, model: ElasticEncoder, card: dict[str, Any]) -> Path:
    """Write the super-adapter's weights (safetensors) and card, each atomically; the card gets the weights' sha256."""
    from safetensors.torch import save_file
    from ..benchmarks.checksums import file_sha256
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files.check_no_links(folder / WEIGHTS)
    tmp = folder / f".{WEIGHTS}.{os.getpid()}.tmp"
    try:
        save_file(dict(sorted(model.adapter_state().items())), str(tmp))
        digest = file_sha256(tmp)
        os.replace(tmp, folder / WEIGHTS)
    finally:
        tmp.unlink(missing_ok=True)
    files.write_json(folder / CARD, {**card, "weights_sha256": digest})
    return folder


def load_super_adapter(folder: str | os.PathLike, base: torch.nn.Module, base_digest: str) -> tuple[ElasticEncoder, dict]:
    """The stored super-adapter of ``folder`` on ``base`` (whose weights' sha256 is ``base_digest``).

    Raises
    ------
    DataError
        For a folder without its card or weights, weights other than the card names, or a base other than the one
        it was trained on.
    """
    from safetensors.torch import load_file
    from ..benchmarks.checksums import file_sha256
    folder = Path(folder)
    card = files.read_json(folder / CARD, "super-adapter card")
    weights = folder / WEIGHTS
    files.check_regular(weights, "super-adapter weights", root=folder)
    if file_sha256(weights) != card.get("weights_sha256"):
        raise DataError(f"{weights}: its sha256 differs from the one {folder / CARD} names; train it again")
    if card.get("base_sha256") != base_digest:
        raise DataError(f"{folder}: trained on base weights {str(card.get('base_sha256'))[:12]}, not these "
                        f"({base_digest[:12]}); train it again for this encoder")
    space = ElasticSpace(**{k: tuple(v) for k, v in card["space"].items()})
    model = ElasticEncoder(base, len(card["labels"]), space, seed=card["training"]["seed"])
    model.load_adapter_state(load_file(str(weights)))
    model.eval()
    return model, card


def super_adapter_for(encoder: str | os.PathLike, task: TaskSplits, tok: TextTokenizer, *,
                      steps: int = TRAINING["steps"], threads: int = 2,
                      folder: str | os.PathLike | None = None) -> tuple[ElasticEncoder, dict, Path]:
    """The super-adapter of ``task`` on the encoder in folder ``encoder``: the stored one in ``folder`` (default
    ``$ZC_DISCOVER_MODELS/lonas-<encoder>-<task>``) while its card matches (base weights, task split, steps, this
    code's ``ADAPTER_VERSION``), else one trained now and stored there. Returns the model, its card and the folder."""
    from ..benchmarks import trained
    from ..benchmarks.pruning.models import models_dir
    encoder = Path(encoder)
    folder = Path(folder) if folder is not None else models_dir() / f"lonas-{encoder.name}-{task.name}"
    digest = trained.weights_digest(encoder)
    base = lambda: trained.load_model(encoder, task="masked-lm")[0].base_model   # noqa: E731
    try:
        model, card = load_super_adapter(folder, base(), digest)
        if (card.get("task_digest"), card["training"].get("steps"), card.get("adapter_version")) == \
                (task.digest, int(steps), ADAPTER_VERSION):
            log.info("%s: super-adapter kept (%s)", task.name, folder)
            return model, card, folder
        log.info("%s: the stored super-adapter was made for other settings; training again", task.name)
    except (DataError, KeyError):
        pass
    model, card = train_super_adapter(base(), digest, task, tok, steps=steps, threads=threads)
    save_super_adapter(folder, model, card)
    log.info("%s: super-adapter trained in %.0f s, dev accuracy %s", task.name, card["train_seconds"],
             card["dev_accuracy"])
    # the card as stored (with its weights' sha256); the model already holds exactly the weights written
    return model.eval(), files.read_json(folder / CARD, "super-adapter card"), folder
