"""What a benchmark is, as the rest of the package sees it: architectures, families, specs and loaded benchmarks.

A *family* is a kind of search space with its own models (FlexiBERT, LTS GPT-2, LTS Transformer-XL): how its files
are read and validated, how a model is built from an architecture's config, how a probe batch drives it, and which
of its modules play which sub-module role. A *spec* is one published benchmark of a family (a name, where its files
live and come from, which metric is its target). ``catalog`` lists both; adding a family is one module that defines a
``BenchmarkFamily`` and one line there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping

from . import datadir
from .listing import SpecFields
from ..errors import UnknownNameError


@dataclass(frozen=True)
class Arch:
    """An architecture with its trained quality.

    ``target`` is oriented so that higher is better (GLUE as is, perplexity negated); ``metrics`` keeps the raw
    numbers the benchmark reports, so nothing is lost by the orientation.
    """

    id: str
    config: dict[str, Any]
    target: float
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkFamily:
    """Everything that is particular to one kind of search space.

    Parameters
    ----------
    name : str
        Short name (``flexibert``, ``gpt2``, ``txl``).
    description : str
        One line for listings.
    builders : tuple of str
        Readings of an architecture config as a model; the first is the default.
    layout : {"file", "folder"}
        A benchmark of this family is one file, or a folder (the LTS layout).
    load : callable
        ``load(path) -> list[Arch]``: read and validate the benchmark's files (raises ``DataError``).
    build : callable
        ``build(config, builder, seed, device) -> torch.nn.Module``: a seeded, initialised model whose modules are
        tagged with their roles (``primitives.roles.tag``).
    vocab_size : callable
        ``vocab_size(config) -> int``: the token ids a probe batch may draw from.
    probe_shape : tuple of int
        Default probe batch size and sequence length.
    probe_seq : callable
        ``probe_seq(config, requested) -> int``: the sequence length of the probe batch of one architecture.
    task_loss : callable
        ``task_loss(model, ids, labels, seed) -> (hidden, loss)``: final hidden states and the probe's task loss.
    input_embedding : callable
        ``input_embedding(model) -> module`` whose output is the input the Jacobian proxies differentiate against.
    roles : mapping
        Role -> the modules of this family's models that carry it (documentation; the models tag themselves).
    model_class : type, optional
        The class of the models ``build`` returns (tells which family a model in hand belongs to); a model keeps the
        config it was built from as ``model.config`` where the family's probe functions need it.
    head_logits : callable, optional
        ``head_logits(model, hidden) -> (tokens, classes)``: the logits of the family's own output head (the LTS
        models' adaptive softmax head cluster); None where the models end without one (FlexiBERT).
    hidden : callable, optional
        ``hidden(model, ids) -> (batch, seq, width)``: final hidden states of token ids, where calling the model on
        them returns something else (Hugging Face models return an output object); default ``model(ids)``.
    digest_patterns : tuple of str
        The files of a folder benchmark whose content keys every cache (``Benchmark.checksum``).
    seeded_draws : bool
        Whether ``build`` initialises every weight matrix by ``seeding.draw`` and records its ``InitKey`` in
        ``model.zc_init`` (featurizing then measures each distinct matrix once); a family of the caller's own models
        is featurized model by model instead.
    """

    name: str
    description: str
    builders: tuple[str, ...]
    layout: str
    load: Callable[[Path], list[Arch]]
    build: Callable[..., Any]
    vocab_size: Callable[[dict[str, Any]], int]
    probe_shape: tuple[int, int]
    probe_seq: Callable[[dict[str, Any], int | None], int]
    task_loss: Callable[..., Any]
    input_embedding: Callable[[Any], Any]
    roles: Mapping[str, str] = field(default_factory=dict)
    model_class: type | None = None
    head_logits: Callable[[Any, Any], Any] | None = None
    hidden: Callable[[Any, Any], Any] | None = None
    seeded_draws: bool = True
    digest_patterns: tuple[str, ...] = ("*.yaml",)

    def __repr__(self) -> str:   # the callables' reprs say nothing a reader needs
        return f"BenchmarkFamily({self.name!r}, builders={self.builders!r}, layout={self.layout!r})"

    def builder(self, name: str | None) -> str:
        """``name`` checked against this family's builders (None: the default one)."""
        if name is None:
            return self.builders[0]
        if name not in self.builders:
            raise UnknownNameError(f"builder for the {self.name} family", name, self.builders)
        return name


@dataclass(frozen=True)
class BenchmarkSpec(SpecFields):
    """One benchmark: its name, family, where its files live and come from, and its target (``relpath`` is
    absolute for ``lts:PATH``; ``direction`` is the raw metric's - the Arch target is always higher-is-better)."""

    family: BenchmarkFamily

    @property
    def is_folder(self) -> bool:
        """Whether the benchmark is a folder (the LTS layout) rather than one file."""
        return self.family.layout == "folder"

    @property
    def builders(self) -> tuple[str, ...]:
        """The readings of its configs (the family's builders; the first is the default)."""
        return self.family.builders

    def path(self, data_dir: str | Path | None = None) -> Path:
        """Where its file or folder is under ``data_dir`` (absolute for ``lts:PATH``)."""
        root = Path(self.relpath)
        return root if root.is_absolute() else datadir.data_dir(data_dir) / root

    def present(self, data_dir: str | Path | None = None) -> bool:
        """Whether the benchmark is there at all (a folder that exists counts: its loader names what is missing)."""
        from .listing import present_at
        return present_at(self.relpath, self.is_folder, data_dir)


@dataclass
class Benchmark:
    """A loaded benchmark: its spec, where it was read from, and its records in a stable order.

    ``Benchmark.from_builder(ids, configs, targets, build, ...)`` makes one of the caller's own torch models
    (``custom.from_builder``, attached by that module: it needs families this module cannot import)."""

    spec: BenchmarkSpec
    path: Path
    archs: list[Arch] = field(repr=False)

    @property
    def name(self) -> str:
        """The benchmark's name (as given, for ``lts:PATH``)."""
        return self.spec.name

    @property
    def family(self) -> BenchmarkFamily:
        """The family its models belong to."""
        return self.spec.family

    def __len__(self) -> int:
        return len(self.archs)

    def __repr__(self) -> str:
        return (f"Benchmark({self.name!r}, family={self.family.name!r}, {len(self.archs)} architectures, "
                f"target={self.spec.target!r} ({self.spec.direction}), path={str(self.path)!r})")

    @cached_property
    def by_id(self) -> dict[str, Arch]:
        """Architecture id -> architecture."""
        return {arch.id: arch for arch in self.archs}

    def arch(self, arch_id: str) -> Arch:
        """The architecture with this id (``UnknownNameError`` with suggestions otherwise)."""
        try:
            return self.by_id[str(arch_id)]
        except KeyError:
            raise UnknownNameError(f"architecture id in {self.name}", str(arch_id), self.by_id) from None

    @cached_property
    def checksum(self) -> str:
        """sha256 of the benchmark's file, or the tree digest of its folder's files (the family's
        ``digest_patterns``: YAML for the LTS layout): keys every cache."""
        from .checksums import file_sha256, tree_sha256
        if self.spec.is_folder:
            files = sorted({p.relative_to(self.path).as_posix() for pattern in self.family.digest_patterns
                            for p in self.path.rglob(pattern)})
            return tree_sha256(self.path, files)
        return file_sha256(self.path)
