"""The published data-dependent proxies (synflow, SNIP, GraSP, Fisher, NASWOT, Jacobian covariance, attention
confidence, LPZero's and EZNAS's, W-PCA, ...) on the sub-networks of a super-adapter, as they are scored on a
pruned model: one probe batch of the task's own *train* sentences with their labels, run through the sub-network's
plain classifier (``elastic.SubNetworkClassifier``), the task loss its cross-entropy.

The classifier is wrapped (``ProbedClassifier``) so that the project's probe (``probing.run.ProbeRun``, through the
Hugging Face family's task loss) sees what it sees in any ``hf:`` model: a tagged encoder with eager attention, a
``classifier`` head, ``forward(input_ids, labels, output_hidden_states)`` returning the loss and hidden states, the
attention mask derived from the padding id. A materialized sub-network keeps a different number of heads per layer,
so each attention module is told its own (``zc_heads``), not the base config's.

Not zero-cost as the weight proxies are: each sub-network costs a forward and a backward pass of the batch (a few
more for GraSP and synflow); ``:seconds`` says how long, per proxy.
"""
from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..benchmarks import hf
from ..probing.inputs import Batch
from ..probing.run import ProbeRun
from ..proxies.probe_table import probe_proxies, score_run
from ..text import PAD_ID, TaskSplits, TextTokenizer
from .elastic import ElasticEncoder, SubNetwork, SubNetworkClassifier, mean_pool

# what a probe of a sub-network reads: the first PROBE_SENTENCES of a seeded draw of non-empty train sentences
PROBE_SENTENCES, PROBE_TOKENS, PROBE_SEED = 32, 64, 0


class ProbedClassifier(nn.Module):
    """A sub-network's classifier as the probe reads a Hugging Face sequence classifier (see the module's text)."""

    def __init__(self, classifier: SubNetworkClassifier, num_labels: int):
        super().__init__()
        self.encoder = classifier.encoder
        self.classifier = classifier.head
        self.config = copy.deepcopy(classifier.encoder.config)
        self.config.num_labels = num_labels
        self.zc_task = "sequence-classification"

    def get_input_embeddings(self) -> nn.Module:
        """The encoder's token embedding (what the probe's embedding-gradient proxies read)."""
        return self.encoder.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, output_hidden_states: bool = False):
        """Logits of the mean-pooled encoding (mask from the padding id), the cross-entropy with ``labels``."""
        from transformers.modeling_outputs import SequenceClassifierOutput
        mask = (input_ids != PAD_ID).long()
        out = self.encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        logits = self.classifier(mean_pool(out.last_hidden_state, mask))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits,
                                        hidden_states=out.hidden_states if output_hidden_states else None)


def probed_classifier(model: ElasticEncoder, sub: SubNetwork, num_labels: int = 2) -> ProbedClassifier:
    """Sub-network ``sub`` as a tagged, hooked model the probe reads."""
    probed = hf.tag_model(ProbedClassifier(SubNetworkClassifier(model, sub), num_labels))
    for layer in probed.encoder.encoder.layer:   # each layer keeps its own heads
        layer.attention.zc_heads = layer.attention.self.num_attention_heads
    hf.add_probe_hooks(probed)
    return probed.eval()


def probe_batch(task: TaskSplits, tok: TextTokenizer, count: int = PROBE_SENTENCES, max_tokens: int = PROBE_TOKENS,
                seed: int = PROBE_SEED) -> Batch:
    """``count`` train sentences drawn by ``seed`` (never a dev or test one: those judge the sub-networks), with
    their labels, padded with ``PAD_ID`` and cut to ``max_tokens``."""
    from .superadapter import encode_sentences
    order = np.random.default_rng(seed).permutation(len(task.train))
    chosen = [task.train[i] for i in order if task.train[i].text.strip()][:count]
    ids, _ = encode_sentences(tok, [e.text for e in chosen], max_tokens)
    return Batch(ids, torch.tensor([e.label for e in chosen], dtype=torch.long), seed)


def subnetwork_probes(model: ElasticEncoder, sub: SubNetwork, batch: Batch, names: Sequence[str]) -> dict:
    """Every proxy of ``names`` on sub-network ``sub`` from one probe of ``batch`` (``probe_table.score_run``:
    value, ``:error``, ``:seconds`` each)."""
    proxies = probe_proxies()
    record = any("linear_outputs" in proxies[n].passes for n in names)
    run = ProbeRun(probed_classifier(model, sub, model.head.out_features), batch, hf.FAMILY, gradient="task",
                   record_linear_outputs=record)
    return score_run(run, list(names))


def probes_table(model: ElasticEncoder, subs: Sequence[SubNetwork], batch: Batch,
                 names: Sequence[str] | None = None) -> pd.DataFrame:
    """``subnetwork_probes`` of every sub-network (``names``: every registered probe proxy), one row each
    (``arch_id``: its name), in order."""
    names = list(names) if names is not None else list(probe_proxies())
    return pd.DataFrame([{"arch_id": sub.name, **subnetwork_probes(model, sub, batch, names)} for sub in subs])


def probe_request(count: int = PROBE_SENTENCES, max_tokens: int = PROBE_TOKENS, seed: int = PROBE_SEED) -> dict:
    """What a stored probes file was measured on (its provenance's ``probe``): a file of other settings is
    measured again."""
    return {"split": "train", "sentences": count, "max_tokens": max_tokens, "seed": seed}


def probe_values(model: ElasticEncoder, subs: Sequence[SubNetwork], batch: Batch,
                 names: Sequence[str] | None = None) -> pd.DataFrame:
    """``probes_table`` in the long values format (``values.long_values``): a proxy that fails on a sub-network
    keeps its reason in ``failure``, so a stored file says why a published proxy has no value here."""
    from ..values import long_values
    names = list(names) if names is not None else list(probe_proxies())
    return long_values(probes_table(model, subs, batch, names), names)


__all__ = ["PROBE_SENTENCES", "PROBE_SEED", "PROBE_TOKENS", "ProbedClassifier", "probe_batch", "probe_request",
           "probe_values", "probed_classifier", "probes_table", "subnetwork_probes"]
