"""Few-step training signals: what a few steps of training on real English text do to a freshly initialised model.

Every statistic measured at initialisation is a function of the architecture's config and the init noise; what
training does is not. This module trains each architecture from its seeded initialisation for the largest of
``StepSettings.steps`` (default 64) AdamW steps and records, after each step count k of the settings (1, 4, 16, 64):

- ``steps{k}_train_loss``: the training loss of step k's batch (before its update); ``steps{k}_loss_drop``: the
  first step's loss minus the mean of the last ``max(1, k // 4)`` steps' (how far it came down);
  ``steps{k}_loss_slope``: the least-squares slope of the losses against log(step) over steps 1..k (k >= 4);
- ``steps{k}_heldout_loss``: the loss on fixed held-out windows after k updates;
- per role (embedding, attention, mixing, ffn, norm, head) of the updated weights:
  ``steps{k}_{role}_grad_norm`` (the norm of step k's gradient), ``steps{k}_{role}_grad_snr`` (signal-to-noise of
  that gradient: the batch is two halves, and SNR = |g1 + g2| / |g1 - g2|, large when both halves agree) and
  ``steps{k}_{role}_weight_change`` (||W_k - W_0|| / ||W_0|| over the role's weights).

The objective is each family's own: the next-token loss for the LTS GPT-2 and Transformer-XL models and for Hugging
Face causal LMs, masked-token prediction (15% of positions, seeded) for FlexiBERT - whose models end without an
output head, so a seeded linear head over the text's vocabulary is trained with them - and for Hugging Face
masked LMs. Text is the train split of ``discover.text``'s corpus, tokenised by its BPE tokenizer; a model whose
vocabulary is smaller than the tokenizer's (the character-level tiny-lm example) reads the same text as ASCII bytes.
Batches are consecutive windows of the token stream, the mask positions are drawn from a generator seeded by the
settings' seed and the step: the same settings give the same values, bit for bit, in any process (one thread).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from primitives.decompose import decompose
from ..errors import ConfigError

log = logging.getLogger(__name__)

STEP_COUNTS = (1, 4, 16, 64)
MAX_STEPS = 10_000
STEPS_VERSION = 1        # bump when a recorded column's definition changes
STEP_ROLES = ("embedding", "attention", "mixing", "ffn", "norm", "head")
ASCII = 128


@dataclass(frozen=True)
class StepSettings:
    """What a few-step training run is: the step counts recorded, the batch (sequences x tokens), AdamW's learning
    rate, the seed of the mask draws, and the held-out windows the loss after the steps is measured on."""

    steps: tuple[int, ...] = STEP_COUNTS
    batch: int = 8
    seq: int = 64
    lr: float = 1e-3
    seed: int = 0
    heldout_windows: int = 8
    per_layer: bool = False    # also each role's gradient norm and noise through depth (first, last, last/first)
    data_after: bool = False   # also the data probe's statistics (``probing.activations``) of the trained model

    def validate(self) -> "StepSettings":
        """Raise ``ConfigError`` naming the first setting out of range; return self."""
        steps = self.steps
        if not isinstance(steps, tuple) or not steps or any(isinstance(k, bool) or not isinstance(k, int)
                                                           for k in steps):
            raise ConfigError(f"step counts must be whole numbers, got {steps!r}")
        if min(steps) <= 0 or max(steps) > MAX_STEPS:
            raise ConfigError(f"step counts must be from 1 to {MAX_STEPS:,}, got {', '.join(map(str, steps))}")
        if list(steps) != sorted(set(steps)):
            raise ConfigError(f"step counts must be distinct and increasing, got {', '.join(map(str, steps))}")
        checks = [(isinstance(self.batch, int) and 2 <= self.batch <= 512 and self.batch % 2 == 0,
                   f"the batch must be an even number of sequences from 2 to 512 (two halves measure the gradient "
                   f"noise), got {self.batch!r}"),
                  (isinstance(self.seq, int) and 8 <= self.seq <= 2048, f"seq must be 8..2048, got {self.seq!r}"),
                  (isinstance(self.lr, (int, float)) and 0 < self.lr <= 1, f"lr must be in (0, 1], got {self.lr!r}"),
                  (isinstance(self.seed, int) and 0 <= self.seed < 2**32, f"seed must be 0..2^32-1, got {self.seed!r}"),
                  (isinstance(self.heldout_windows, int) and 1 <= self.heldout_windows <= 1024,
                   f"heldout_windows must be 1..1024, got {self.heldout_windows!r}"),
                  (isinstance(self.per_layer, bool), f"per_layer must be True or False, got {self.per_layer!r}"),
                  (isinstance(self.data_after, bool), f"data_after must be True or False, got {self.data_after!r}")]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def describe(self) -> dict:
        """The settings as provenance: with the text's and tokenizer's digests and this module's version."""
        from ..text import lm_digest, tokenizer
        described = {**asdict(self), "steps": list(self.steps), "optimizer": "AdamW", "corpus": lm_digest(),
                     "tokenizer": tokenizer().digest, "version": STEPS_VERSION}
        for extra in ("per_layer", "data_after"):   # named only when asked: values made without them stay valid
            if not described[extra]:
                del described[extra]
        return described


def step_columns(steps: tuple[int, ...] = STEP_COUNTS, per_layer: bool = False,
                 data_after: bool = False) -> list[str]:
    """Every column a few-step run records, for these step counts (and the optional per-layer and data columns)."""
    columns = []
    for k in steps:
        columns += [f"steps{k}_{name}" for name in ("train_loss", "loss_drop", "loss_slope", "heldout_loss")]
        columns += [f"steps{k}_{role}_{stat}" for role in STEP_ROLES for stat in ("grad_norm", "grad_snr",
                                                                                 "weight_change")]
        if per_layer:
            columns += layer_columns(k)
        if data_after:
            from .activations import activation_feature_names
            columns += [f"steps{k}_{name}" for name in activation_feature_names()]
    return columns


def layer_columns(step: int) -> list[str]:
    """The per-layer gradient columns after ``step`` steps: each role's norm and signal-to-noise at the first and
    last layer, and last / first (a depth profile; a column per layer would differ between depths)."""
    from .activations import DEPTH_AGGREGATIONS
    return [f"steps{step}_{role}_{stat}_{agg}" for role in STEP_ROLES for stat in ("grad_norm", "grad_snr")
            for agg in DEPTH_AGGREGATIONS]


def settings_for_columns(columns) -> dict[str, bool]:
    """Which optional kinds of step columns a set of feature names reads (``per_layer``, ``data_after``)."""
    from .activations import activation_feature_names
    rest = {c.split("_", 1)[1] for c in columns if c.startswith("steps") and "_" in c}
    layered = {c.split("_", 1)[1] for c in layer_columns(0)}
    return {"per_layer": bool(rest & layered), "data_after": bool(rest & set(activation_feature_names()))}


@lru_cache(maxsize=4)
def _bpe_streams() -> tuple[np.ndarray, np.ndarray]:
    from ..text import token_ids, tokenizer
    tok = tokenizer()
    return np.asarray(token_ids("train", tok), dtype=np.int64), np.asarray(token_ids("heldout", tok), dtype=np.int64)


@lru_cache(maxsize=4)
def _ascii_streams() -> tuple[np.ndarray, np.ndarray]:
    from ..text import lm_documents
    streams = []
    for split in ("train", "heldout"):
        text = "\n".join(doc.text for doc in lm_documents(split))
        data = np.frombuffer(text.encode("ascii", errors="ignore"), dtype=np.uint8)
        streams.append(data.astype(np.int64))
    return streams[0], streams[1]


def token_streams(vocab_size: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(train ids, held-out ids, what they are) for a model of ``vocab_size`` tokens: the BPE ids where they fit,
    else the text's ASCII bytes (a character-level model), else a ``ConfigError``."""
    from ..text import VOCAB_SIZE
    if vocab_size >= VOCAB_SIZE:
        train, heldout = _bpe_streams()
        return train, heldout, f"bpe-{VOCAB_SIZE}"
    if vocab_size >= ASCII:
        train, heldout = _ascii_streams()
        return train, heldout, "ascii"
    raise ConfigError(f"a vocabulary of {vocab_size} tokens holds neither the text's {VOCAB_SIZE} BPE tokens nor its "
                      f"{ASCII} ASCII characters; few-step training needs one of them")


def _windows(stream: np.ndarray, first: int, count: int, length: int) -> torch.Tensor:
    """``count`` consecutive windows of ``length`` tokens from window index ``first`` (wrapping around)."""
    total = len(stream) // length
    rows = [(first + i) % total for i in range(count)]
    return torch.as_tensor(np.stack([stream[r * length:(r + 1) * length] for r in rows]))


class Objective:
    """The loss a family's model is trained on: next-token prediction, or masked tokens (with the family's own
    head, or a seeded linear head over the text's vocabulary for a model that ends in hidden states)."""

    def __init__(self, model: nn.Module, family, config: dict, settings: StepSettings, vocab: int):
        self.family, self.settings, self.vocab = family, settings, vocab
        self.kind = _objective_kind(model, family)
        self.head = None
        if self.kind == "masked-hidden":   # FlexiBERT: hidden states only; a seeded head learns with the model
            width = _output_width(model, family, config)
            generator = torch.Generator().manual_seed(settings.seed + 17)
            self.head = nn.Linear(width, vocab)
            with torch.no_grad():
                self.head.weight.copy_(torch.randn(vocab, width, generator=generator) * 0.02)
                self.head.bias.zero_()

    @property
    def window(self) -> int:
        """Tokens a window holds: one more than the sequence for next-token prediction."""
        return self.settings.seq + (1 if self.kind == "causal" else 0)

    def loss(self, model: nn.Module, ids: torch.Tensor, step: int) -> torch.Tensor:
        """The objective on one batch (``step`` seeds the masked positions)."""
        if self.kind == "causal":   # the family's own next-token loss (LTS: adaptive softmax; hf: the LM head)
            return self.family.task_loss(model, ids, None, self.settings.seed)[1]
        from ..text import mask_positions
        chosen = mask_positions(ids.shape, self.settings.seed * 100_003 + step)
        if self.kind == "masked-hf":
            mask_id = getattr(model.config, "mask_token_id", None)
            inputs = ids.masked_fill(chosen, mask_id if isinstance(mask_id, int) else 0)
            return model(input_ids=inputs, labels=ids.masked_fill(~chosen, -100)).loss
        from ..text import MASK_ID
        hidden = model(ids.masked_fill(chosen, MASK_ID))
        logits = self.head(hidden[chosen])
        return nn.functional.cross_entropy(logits, ids[chosen])


def _objective_kind(model: nn.Module, family) -> str:
    if family.name in ("gpt2", "txl"):
        return "causal"
    if family.name == "flexibert":
        return "masked-hidden"
    if family.name == "hf":
        task = getattr(model, "zc_task", "causal-lm")
        if task == "causal-lm":
            return "causal"
        if task == "masked-lm":
            return "masked-hf"
    raise ConfigError(f"few-step training needs a language-modelling objective; the {family.name} family's models "
                      f"({type(model).__name__}) have none here (causal or masked LM families: flexibert, gpt2, "
                      "txl, and hf folders of task causal-lm or masked-lm)")


def _output_width(model: nn.Module, family, config: dict) -> int:
    with torch.no_grad():
        return int(model(torch.zeros(1, 2, dtype=torch.long)).shape[-1])


def _roles(model: nn.Module) -> tuple[dict[str, list[nn.Parameter]], dict[str, list[int | None]]]:
    """The model's trainable parameters by role (``primitives.decompose``), each once, and the layer of each."""
    by_id = {id(p): p for p in model.parameters() if p.requires_grad}
    roles: dict[str, list[nn.Parameter]] = {role: [] for role in STEP_ROLES}
    layers: dict[str, list[int | None]] = {role: [] for role in STEP_ROLES}
    seen: set[int] = set()
    for tagged in decompose(model):
        key = id(tagged.tensor)
        if key in by_id and key not in seen and tagged.role in roles:
            roles[tagged.role].append(by_id[key])
            layers[tagged.role].append(tagged.layer)
            seen.add(key)
    return roles, layers


def _norm(tensors: list[torch.Tensor]) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors)) if tensors else math.nan


def _slope(losses: list[float]) -> float:
    if len(losses) < 4:
        return math.nan
    x = np.log(np.arange(1, len(losses) + 1, dtype=float))
    return float(np.polyfit(x, np.asarray(losses, dtype=float), 1)[0])


def train_steps(model: nn.Module, family, config: dict, settings: StepSettings) -> tuple[dict[str, float],
                                                                                          dict[int, float]]:
    """Train ``model`` (in place) for ``max(settings.steps)`` steps; (the recorded columns, the seconds spent to
    reach each step count, measurements included)."""
    settings.validate()
    vocab = int(family.vocab_size(config))
    train, heldout, _ = token_streams(vocab)   # read once per process: not part of an architecture's cost
    start = time.perf_counter()
    objective = Objective(model, family, config, settings, min(vocab, _stream_vocab(train, heldout)))
    readable = family.probe_seq(config, objective.window)
    if readable < objective.window:   # a shorter window for some models would make their losses incomparable
        raise ConfigError(f"few-step training reads windows of {objective.window} tokens, but this architecture "
                          f"reads at most {readable}; train every architecture of the space with a shorter "
                          f"window (StepSettings(seq={max(8, readable - 1)}))")
    model.eval()   # no dropout: the same steps give the same values
    roles, layers = _roles(model)
    initial = {role: [p.detach().clone() for p in params] for role, params in roles.items()}
    parameters = [p for p in model.parameters() if p.requires_grad] + \
        (list(objective.head.parameters()) if objective.head is not None else [])
    optimizer = torch.optim.AdamW(parameters, lr=settings.lr)
    held = _windows(heldout, 0, settings.heldout_windows, objective.window)
    half = settings.batch // 2
    values: dict[str, float] = {}
    seconds: dict[int, float] = {}
    losses: list[float] = []
    recorded = set(settings.steps)
    for step in range(1, max(settings.steps) + 1):
        batch = _windows(train, (step - 1) * settings.batch, settings.batch, objective.window)
        optimizer.zero_grad(set_to_none=True)
        halves = []
        total = 0.0
        for part in (batch[:half], batch[half:]):
            loss = objective.loss(model, part, step) / 2
            loss.backward()
            total += float(loss.detach())
            if step in recorded:   # the first half's gradient, kept to measure the noise between halves
                halves.append({role: [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                                      for p in params] for role, params in roles.items()})
        losses.append(total)
        if not math.isfinite(total):
            raise FloatingPointError(f"the training loss is {total} at step {step}")
        if step in recorded:
            _record_gradients(values, step, halves, layers if settings.per_layer else None)
        optimizer.step()
        if step in recorded:
            _record_after(values, step, losses, model, objective, held, roles, initial)
            if settings.data_after:
                values.update(_data_after(model, family, config, step, settings.seed))
            seconds[step] = time.perf_counter() - start
    return values, seconds


def _stream_vocab(*streams: np.ndarray) -> int:
    return int(max(int(s.max()) for s in streams)) + 1


def _signal_noise(first: list[torch.Tensor], both: list[torch.Tensor]) -> tuple[float, float]:
    """The gradient's norm over both halves of the batch, and its signal-to-noise between the halves."""
    second = [b - a for a, b in zip(first, both)]
    signal = _norm([a + b for a, b in zip(first, second)])
    noise = _norm([a - b for a, b in zip(first, second)])
    return signal, signal / noise if noise > 0 else math.nan


def _record_gradients(values: dict, step: int, halves: list[dict], layers: dict | None = None) -> None:
    """Each role's gradient norm and noise (``layers``: also through depth, ``layer_columns``)."""
    from .activations import DEPTH_AGGREGATIONS, aggregate_layers
    first, both = halves   # the gradient after the first half, and after both (the second accumulated onto it)
    for role in STEP_ROLES:
        g_first, g_both = first[role], both[role]
        if not g_first:
            values.update({f"steps{step}_{role}_grad_norm": math.nan, f"steps{step}_{role}_grad_snr": math.nan})
            if layers is not None:
                values.update({f"steps{step}_{role}_{stat}_{agg}": math.nan for agg in DEPTH_AGGREGATIONS
                               for stat in ("grad_norm", "grad_snr")})
            continue
        norm, snr = _signal_noise(g_first, g_both)
        values[f"steps{step}_{role}_grad_norm"], values[f"steps{step}_{role}_grad_snr"] = norm, snr
        if layers is not None:   # per layer, then first / last / last-over-first as the data features do it
            by_layer = {stat: {} for stat in ("grad_norm", "grad_snr")}
            for layer in sorted({at for at in layers[role] if at is not None}) or [None]:
                rows = [i for i, at in enumerate(layers[role]) if at == layer]
                by_layer["grad_norm"][layer], by_layer["grad_snr"][layer] = _signal_noise(
                    [g_first[i] for i in rows], [g_both[i] for i in rows])
            for stat, series in by_layer.items():
                profile = aggregate_layers(series)
                values.update({f"steps{step}_{role}_{stat}_{agg}": profile[agg] for agg in DEPTH_AGGREGATIONS})

@torch.no_grad()
def _record_after(values: dict, step: int, losses: list[float], model: nn.Module, objective: Objective,
                  held: torch.Tensor, roles: dict, initial: dict) -> None:
    last = losses[-max(1, step // 4):]
    values[f"steps{step}_train_loss"] = losses[-1]
    values[f"steps{step}_loss_drop"] = losses[0] - float(np.mean(last))
    values[f"steps{step}_loss_slope"] = _slope(losses)
    values[f"steps{step}_heldout_loss"] = float(objective.loss(model, held, 0))
    for role in STEP_ROLES:
        params = roles[role]
        if not params:
            values[f"steps{step}_{role}_weight_change"] = math.nan
            continue
        base = _norm(initial[role])
        change = _norm([p.detach() - w for p, w in zip(params, initial[role])])
        values[f"steps{step}_{role}_weight_change"] = change / base if base > 0 else math.nan


def _data_after(model: nn.Module, family, config: dict, step: int, seed: int) -> dict[str, float]:
    """The data probe's statistics of the model as training left it after ``step`` steps (its default probe batch,
    seeded as every stored probe value; ``probing.activations``), named ``steps{step}_<feature>``. A model that
    training took somewhere the probe's linear algebra cannot follow (non-finite activations: an eigensolver that
    does not converge) has NaN there: the training signals of the same run are still what they are."""
    from . import ProbeSettings
    from .activations import ACTIVATION_PASSES, activation_feature_names, activation_features
    try:
        run = ProbeSettings().probe(model, family, config, seed, passes=ACTIVATION_PASSES)
        features = activation_features(run)
    except (torch.linalg.LinAlgError, np.linalg.LinAlgError, FloatingPointError) as exc:
        log.warning("the data probe after %d steps failed (%s: %s); its columns are NaN", step, type(exc).__name__,
                    str(exc).splitlines()[0][:80] if str(exc) else "")
        features = dict.fromkeys(activation_feature_names(), math.nan)
    finally:
        model.zero_grad(set_to_none=True)   # the probe's gradients are not the next step's
        model.eval()
    return {f"steps{step}_{name}": float(value) for name, value in features.items()}


def settings_digest(settings: StepSettings) -> str:
    """A short digest of the whole settings description (keys caches and stored files)."""
    return hashlib.sha256(json.dumps(settings.describe(), sort_keys=True).encode()).hexdigest()[:16]


__all__ = ["MAX_STEPS", "STEPS_VERSION", "STEP_COUNTS", "STEP_ROLES", "StepSettings", "layer_columns",
           "settings_digest", "settings_for_columns", "step_columns", "token_streams", "train_steps"]
