"""What the robustness study predicts, per sub-network: clean accuracy, and how it holds up under each attack.

For one sub-network of a stored super-adapter (``superadapter.save_super_adapter``): its accuracy on the whole dev
and test splits, and, for each attack (``attacks.Attack``) on the same seeded test sentences
(``attacks.attacked_examples``), the clean and attacked accuracy on them, the attack success rate, the mean fraction
of words perturbed and the mean queries (``attacks.summarise``). Every evaluation runs the sub-network as a plain
classifier of its own width (``elastic.SubNetworkClassifier``).

``measure_targets`` sends one sub-network per task through ``parallel.parallel_imap``: each worker loads the encoder,
the super-adapter and the task once (plain paths and names travel, never a model) and computes single-threaded, so
a sub-network's figures are the same whatever the number of jobs, and the same on a second run. Each sub-network's
rows are kept as it finishes (``cache.RecordStore``, keyed by the request, the weights' digests and the code
version), so an interrupted measurement resumes where it stopped and a changed request or code measures afresh.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from .. import cache
from ..benchmarks import trained
from ..benchmarks.checksums import file_sha256
from ..errors import ConfigError
from ..parallel import parallel_imap
from ..text import load_task, tokenizer
from ..version import code_version
from . import superadapter as sa
from .attacks import ATTACKS, Attack, attacked_examples, mlm_proposer, summarise
from .elastic import SubNetwork, SubNetworkClassifier

TARGETS_VERSION = 1   # bump when a target's definition changes: stored values name it
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class TargetRequest:
    """Everything a measurement depends on, as plain values (what travels to a worker and what provenance records).

    ``encoder`` and ``adapter`` are folders (the masked LM and its task's super-adapter); ``attack_sentences`` test
    sentences drawn by ``seed`` are attacked by each of ``attacks`` with ``max_queries`` victim queries each (0
    sentences: clean accuracy only)."""

    encoder: str
    adapter: str
    task: str
    corpora: str | None = None
    attacks: tuple[str, ...] = ATTACKS
    attack_sentences: int = 100
    max_queries: int = 200
    candidates: int = 8
    seed: int = 0

    def describe(self) -> dict:
        """The request without machine paths: folder names only."""
        return {**asdict(self), "encoder": Path(self.encoder).name, "adapter": Path(self.adapter).name,
                "corpora": None, "version": TARGETS_VERSION}


_LOADED: dict[TargetRequest, tuple] = {}


def _load(request: TargetRequest):
    """The super-adapter, tokenizer, attacks and attacked sentences of ``request``, once per process."""
    if request not in _LOADED:
        encoder = Path(request.encoder)
        digest = trained.weights_digest(encoder)
        model, card = sa.load_super_adapter(request.adapter, trained.load_model(encoder, task="masked-lm")[0]
                                            .base_model, digest)
        tok, task = tokenizer(folder=request.corpora), load_task(request.task, folder=request.corpora)
        attacks = []
        if request.attack_sentences:
            mlm = trained.load_model(encoder, task="masked-lm")[0].eval()
            attacks = [Attack(name, request.max_queries, request.candidates,
                              proposer=mlm_proposer(mlm, tok) if name == "bae" else None, seed=request.seed)
                       for name in request.attacks]
        chosen = attacked_examples(task.test, request.attack_sentences, request.seed)
        _LOADED.clear()   # one request per process at a time: a worker never holds two encoders
        _LOADED[request] = (model, card, tok, task, attacks, chosen)
    return _LOADED[request]


def subnetwork_targets(request: TargetRequest, name: str) -> list[dict]:
    """The targets of the sub-network ``name`` (``SubNetwork.name``) as long rows: ``arch_id``, ``proxy`` (the
    target's name), ``value``, ``seconds`` (the wall time of what measured it, shared among its rows)."""
    model, _, tok, task, attacks, chosen = _load(request)
    sub = SubNetwork.parse(name).check(model.space, model.config)
    classifier = SubNetworkClassifier(model, sub)
    rows = []
    for split in SPLITS:
        started = time.perf_counter()
        value = sa.accuracy(classifier, tok, getattr(task, split))
        rows.append({"arch_id": name, "proxy": f"{split}_accuracy", "value": value,
                     "seconds": time.perf_counter() - started})
    victim = lambda texts: sa.predict(classifier, tok, texts)   # noqa: E731
    for attack in attacks:
        started = time.perf_counter()
        summary = summarise([attack.run(victim, e.text, e.label, e.key) for e in chosen])
        seconds = (time.perf_counter() - started) / len(summary)
        rows += [{"arch_id": name, "proxy": f"{attack.name}_{metric}", "value": value, "seconds": seconds}
                 for metric, value in summary.items()]
    return rows


def check_request(request: TargetRequest) -> None:
    """Refuse a request that could not be measured - an unknown attack, a query budget or sentence count out of
    range - before anything is loaded, trained or written.

    Raises
    ------
    ConfigError, UnknownNameError
    """
    if not isinstance(request.attack_sentences, int) or request.attack_sentences < 0:
        raise ConfigError(f"the attacked sentences must be a whole number >= 0, not {request.attack_sentences!r}")
    for attack in request.attacks:
        Attack(attack, request.max_queries, request.candidates, proposer=lambda *_: [], seed=request.seed)


def target_store(request: TargetRequest) -> cache.RecordStore:
    """Where each sub-network's rows of ``request`` are kept as they finish: keyed by the request, the digests of
    the encoder's and the super-adapter's weights and the code version (any of them changed: measured afresh)."""
    key = {**request.describe(), "encoder_sha256": trained.weights_digest(request.encoder),
           "adapter_sha256": file_sha256(Path(request.adapter) / sa.WEIGHTS), "code": code_version()}
    return cache.RecordStore(cache.cache_dir().parent / "robustness" / cache.key_digest(key)[:20], key)


def _stored(rows: list[dict]) -> dict:
    # JSON has no NaN (a success rate with no sentence classified right): kept as null
    return {"rows": [{**r, "value": None if math.isnan(r["value"]) else r["value"]} for r in rows]}


def _restored(record: dict) -> list[dict]:
    return [{**r, "value": float("nan") if r["value"] is None else r["value"]} for r in record["rows"]]


def measure_targets(request: TargetRequest, names: Sequence[str], jobs: int = 1, resume: bool = True
                    ) -> pd.DataFrame:
    """``subnetwork_targets`` of every sub-network in ``names`` on ``jobs`` processes (or the active Dask engine),
    in the order of ``names``. Sub-networks already measured under the same request, weights and code are read
    back (``resume=False``: all measured again); ``attrs["read_back"]`` counts them."""
    check_request(request)
    request = TargetRequest(**{**asdict(request), "encoder": os.fspath(request.encoder),
                               "adapter": os.fspath(request.adapter)})
    store = target_store(request)
    done = {n: store.read(n) for n in names} if resume else {}
    missing = [n for n in dict.fromkeys(names) if done.get(n) is None]
    measured = parallel_imap(subnetwork_targets, [(request, n) for n in missing], n_jobs=jobs,
                             desc=f"{request.task} targets")
    for name, part in zip(missing, measured):
        store.write(name, _stored(part))
        done[name] = _stored(part)
    rows = [row for n in names for row in _restored(done[n])]
    table = pd.DataFrame(rows, columns=["arch_id", "proxy", "value", "seconds"])
    table.attrs["read_back"] = len(set(names)) - len(missing)   # what a wall time of this call did not measure
    return table


__all__ = ["SPLITS", "TARGETS_VERSION", "TargetRequest", "check_request", "measure_targets", "subnetwork_targets",
           "target_store"]
