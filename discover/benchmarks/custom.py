"""A search space of the caller's own torch models, from Python: ``Benchmark.from_builder``.

The caller passes architecture ids, a config per architecture, the trained score of each, and their own function
that builds a model from a config - code they wrote and hand over explicitly, never code read from a file. Every
verb's Python function then takes the benchmark: ``featurize``, ``score_proxy``, ``compare``, ``ProxySearch.fit``.

Models are measured one by one (nothing tells which of their weights two architectures share). Their parameters are
placed by their modules' tags (``primitives.tag``), or - for a Hugging Face model - by ``hf.tag_model``, or by the
module names Hugging Face's BERT and GPT-2 use; a parameter none of these places is the usual clear error. The probe's
task is ``task_loss`` when given, else a fixed random linear classifier of the mean-pooled final hidden states against
seeded labels (FlexiBERT's), on token ids drawn from ``vocab_size``.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..errors import ConfigError, DataError
from .base import Arch, Benchmark, BenchmarkFamily, BenchmarkSpec
from .flexibert import classification_loss


def _hidden(output) -> torch.Tensor:
    if torch.is_tensor(output):
        return output
    for name in ("last_hidden_state", "decoder_hidden_states", "hidden_states"):
        value = getattr(output, name, None)
        if torch.is_tensor(value):
            return value
        if isinstance(value, (tuple, list)) and value and torch.is_tensor(value[-1]):
            return value[-1]
    raise ValueError("the model returned neither a tensor of hidden states nor an output with last_hidden_state; "
                     "give task_loss=")


def default_task_loss(model, ids, labels, seed):
    """(final hidden states, FlexiBERT's task: a fixed random linear classifier of the mean-pooled states against
    seeded labels)."""
    kwargs = {"output_hidden_states": True} if hasattr(model, "config") else {}
    hidden = _hidden(model(ids, **kwargs))
    return hidden, classification_loss(hidden, labels, seed)


@dataclass(frozen=True)
class _Builder:
    """The caller's build function, seeded and with its model's roles placed (a picklable callable for workers)."""
    build: Callable[[dict, int], nn.Module]

    def __call__(self, config: dict, builder: str = "own", seed: int = 0, device: str | torch.device = "cpu"):
        torch.manual_seed(int(seed))
        model = self.build(config, int(seed))
        if not isinstance(model, nn.Module):
            raise ConfigError(f"build returned {type(model).__name__}, not a torch.nn.Module")
        if torch.device(device).type not in ("cpu", "meta"):
            model = model.to(device)
        if hasattr(model, "config") and hasattr(model, "get_input_embeddings"):
            from .hf import add_probe_hooks, tag_model
            try:
                tag_model(model)
                add_probe_hooks(model)
            except DataError:
                pass   # not a layered Hugging Face model: its own tags or names place it
        model.eval()
        return model


@dataclass
class CustomBenchmark(Benchmark):
    """A benchmark built in Python; its checksum digests its records and the build function's source."""
    digest: str = field(default="", repr=False)

    @property
    def checksum(self) -> str:   # type: ignore[override]
        """sha256 of the records, the name and the source of the build (and task loss) functions: keys the caches."""
        return self.digest


def _source(function: Callable) -> str:
    target = function.__call__ if not inspect.isfunction(function) and hasattr(function, "__call__") else function
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"


def from_builder(ids: list[str], configs: list[dict[str, Any]], targets: list[float],
                 build: Callable[[dict, int], nn.Module], task_loss: Callable | None = None, *,
                 name: str = "custom", higher_is_better: bool = True, vocab_size: int | None = None,
                 probe_shape: tuple[int, int] = (16, 128), metrics: list[dict] | None = None) -> Benchmark:
    """A benchmark of the caller's own models.

    Parameters
    ----------
    ids : list of str
        One id per architecture (unique).
    configs : list of dict
        What ``build`` needs for each architecture (JSON-serialisable: it keys the caches).
    targets : list of float
        Trained quality of each architecture (finite).
    build : callable
        ``build(config, seed) -> torch.nn.Module``: the caller's own code; seeded (``torch.manual_seed(seed)`` is
        set before each call). Models are built in worker processes, so it must be picklable (a module-level
        function; cloudpickle takes most closures).
    task_loss : callable, optional
        ``task_loss(model, ids, labels, seed) -> (final hidden states, loss)`` for the probe (default: a fixed random
        classifier of the mean-pooled hidden states).
    name : str
        The benchmark's name in reports.
    higher_is_better : bool
        The targets' direction (a perplexity or a loss: False; it is negated, as the LTS perplexities are).
    vocab_size : int, optional
        Token ids the probe draws (default: each config's ``vocab_size``).
    probe_shape : (int, int)
        Probe batch size and sequence length.
    metrics : list of dict, optional
        Other numbers per architecture, kept as ``Arch.metrics``.

    Returns
    -------
    Benchmark

    Raises
    ------
    DataError
        Lengths that differ, duplicate ids, or non-finite targets.

    Examples
    --------
    >>> bench = Benchmark.from_builder(ids, configs, losses, build=my_model, higher_is_better=False)  # doctest: +SKIP
    >>> featurize(bench), score_proxy(bench, "snip"), ProxySearch().fit(bench)                        # doctest: +SKIP
    """
    ids = [str(i) for i in ids]
    if not (len(ids) == len(configs) == len(targets)):
        raise DataError(f"from_builder: {len(ids)} ids, {len(configs)} configs and {len(targets)} targets; give one "
                        "of each per architecture")
    if len(set(ids)) != len(ids):
        raise DataError(f"from_builder: id {next(i for i in ids if ids.count(i) > 1)!r} appears more than once")
    if not callable(build):
        raise ConfigError("from_builder: build must be a function build(config, seed) -> torch.nn.Module")
    values = []
    for arch_id, target in zip(ids, targets):
        try:
            value = float(target)
        except (TypeError, ValueError):
            raise DataError(f"from_builder: the target of {arch_id!r} is {target!r}, not a number") from None
        if not math.isfinite(value):
            raise DataError(f"from_builder: the target of {arch_id!r} is not finite")
        values.append(value if higher_is_better else -value)
    try:
        content = json.dumps([ids, configs, values, name], sort_keys=True, default=str)
    except (TypeError, ValueError) as error:
        raise DataError(f"from_builder: configs must be JSON-serialisable ({error})") from None
    digest = hashlib.sha256((content + _source(build) + (_source(task_loss) if task_loss else "")).encode()).hexdigest()

    def vocab(config: dict) -> int:
        size = vocab_size or config.get("vocab_size")
        if not isinstance(size, int) or size < 2:
            raise ConfigError("the probe draws token ids: give vocab_size= or a vocab_size in each config")
        return size

    family = BenchmarkFamily(
        name="custom", description=f"{name}: the caller's own models", builders=("own",), layout="folder",
        load=lambda path: [], build=_Builder(build), vocab_size=vocab, probe_shape=tuple(probe_shape),
        probe_seq=lambda config, requested: requested or probe_shape[1],
        task_loss=task_loss or default_task_loss,
        input_embedding=lambda model: model.get_input_embeddings(),
        roles={"any": "the model's own tags, Hugging Face structure, or BERT/GPT-2 names"},
        hidden=lambda model, ids: _hidden(model(ids)), seeded_draws=False)
    spec = BenchmarkSpec(name=name, family=family, relpath=".", n_archs=len(ids), target="target",
                         direction="higher is better" if higher_is_better else "lower is better", url="",
                         sha256=digest, license="the caller's", citation=name)
    archs = [Arch(id=i, config=dict(c), target=v, metrics=dict(m) if m else {})
             for i, c, v, m in zip(ids, configs, values, metrics or [None] * len(ids))]
    return CustomBenchmark(spec=spec, path=Path("."), archs=archs, digest=digest)


Benchmark.from_builder = staticmethod(from_builder)   # the public spelling: Benchmark.from_builder(...)

__all__ = ["CustomBenchmark", "default_task_loss", "from_builder"]
