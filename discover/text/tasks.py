"""Sentence-classification tasks on real English text, pinned: the robustness study's tasks (issue #29).

Two tasks of Pang & Lee's review sentences, read from the NLTK corpora zips (``corpus.corpus_zip``: digest-checked
before a byte is read):

- ``sentence_polarity``: 10,662 movie-review snippets, negative (0) or positive (1) - the "rotten tomatoes" set
  attack papers use;
- ``subjectivity``: 10,000 sentences, objective plot summaries (0) or subjective review quotes (1).

One sentence a line in each label's file. The splits are fixed and seeded: within each label the sentences are
shuffled by a generator seeded by ``seed`` and cut 80 / 10 / 10 into train, dev and test, so every split keeps the
task's balance and the same seed gives the same split on every machine. A file that does not hold its label's
expected number of sentences (another version, a truncated copy, files swapped between labels) is one error that
names it: labels are never guessed.

A task of one's own is a CSV file with a ``text`` and an integer ``label`` column (``task_from_csv``), split the same
way; a label that is not a whole number from 0, or a task with one class, is refused with the row that shows it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, UnknownNameError
from .corpus import SHA256, read_member

SPLIT_NAMES = ("train", "dev", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
SPLIT_VERSION = 1   # bump when the split rule changes: stored results name it
MAX_TASK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class TaskSpec:
    """A pinned task: its corpus, each label's member file and its number of sentences, the label names."""

    corpus: str
    members: tuple[tuple[str, int], ...]   # (member of the zip, sentences it holds), one per label in label order
    labels: tuple[str, ...]
    citation: str


TASKS = {
    "sentence_polarity": TaskSpec("sentence_polarity", (("sentence_polarity/rt-polarity.neg", 5331),
                                                        ("sentence_polarity/rt-polarity.pos", 5331)),
                                  ("negative", "positive"), "Pang & Lee, ACL 2005 (CC BY 4.0)"),
    "subjectivity": TaskSpec("subjectivity", (("subjectivity/plot.tok.gt9.5000", 5000),
                                              ("subjectivity/quote.tok.gt9.5000", 5000)),
                             ("objective", "subjective"), "Pang & Lee, ACL 2004 (CC BY 4.0)"),
}


@dataclass(frozen=True)
class Example:
    """One sentence with its label; ``key`` (``task/label/line``) names it in splits and stored results."""

    text: str
    label: int
    key: str


@dataclass(frozen=True)
class TaskSplits:
    """A task's examples by split, with what identifies them (``digest``: the task's source and the split)."""

    name: str
    labels: tuple[str, ...]
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    seed: int
    digest: str

    def split(self, name: str) -> tuple[Example, ...]:
        """The examples of split ``name`` (train, dev or test)."""
        if name not in SPLIT_NAMES:
            raise UnknownNameError("split", name, SPLIT_NAMES)
        return getattr(self, name)


def task_examples(name: str, folder: str | os.PathLike | None = None, offline: bool | None = None) -> list[Example]:
    """Every sentence of pinned task ``name``, in file order, label by label."""
    if name not in TASKS:
        raise UnknownNameError("task", name, TASKS)
    spec = TASKS[name]
    examples: list[Example] = []
    for label, (member, expected) in enumerate(spec.members):
        lines = [line.strip() for line in read_member(spec.corpus, member, folder, offline).splitlines()]
        sentences = [line for line in lines if line]
        if len(sentences) != expected:
            raise DataError(f"task {name}: {member} holds {len(sentences):,} sentences, not the {expected:,} of the "
                            f"pinned corpus ({spec.labels[label]}); its labels cannot be trusted - replace "
                            f"{spec.corpus}.zip by the nltk_data file")
        examples += [Example(text, label, f"{name}/{label}/{i}") for i, text in enumerate(sentences)]
    return examples


def task_from_csv(path: str | os.PathLike) -> tuple[list[Example], tuple[str, ...]]:
    """A task of one's own: (its examples, its label names ``"0"``, ``"1"``, ...) from a CSV of ``text`` and
    ``label`` (whole numbers from 0; at least two classes)."""
    examples, labels, _ = _csv_task(Path(path))
    return examples, labels


def _csv_task(path: Path) -> tuple[list[Example], tuple[str, ...], str]:
    """``task_from_csv`` and the sha256 of the bytes it parsed (read once, bounded, a regular file only)."""
    import io

    import pandas as pd
    from .. import files
    data = files.read_bytes(path, "task file", MAX_TASK_BYTES)
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={"text": str, "label": str}, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a CSV table ({exc}); write a header row 'text,label'") from None
    missing = [c for c in ("text", "label") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no {' or '.join(repr(c) for c in missing)} column (it has "
                        f"{', '.join(map(str, frame.columns))}); a task file has 'text' and 'label'")
    labels = pd.to_numeric(frame["label"], errors="coerce")
    bad = [i for i, value in enumerate(labels) if not np.isfinite(value) or value != int(value) or value < 0]
    if bad:
        raise DataError(f"{path}: row {bad[0] + 2} has label {frame['label'].iloc[bad[0]]!r}; labels are whole "
                        "numbers from 0")
    empty = [i for i, text in enumerate(frame["text"]) if not str(text).strip()]
    if empty:
        raise DataError(f"{path}: row {empty[0] + 2} has no text")
    classes = sorted(set(labels.astype(int)))
    if len(classes) < 2 or classes != list(range(len(classes))):
        raise DataError(f"{path}: labels {classes}; a task needs at least two classes numbered 0, 1, ... without "
                        "gaps")
    examples = [Example(str(text).strip(), int(label), f"{path.stem}/{int(label)}/{i}")
                for i, (text, label) in enumerate(zip(frame["text"], labels))]
    return examples, tuple(str(c) for c in classes), hashlib.sha256(data).hexdigest()


def split_examples(examples: list[Example], seed: int = 0) -> dict[str, tuple[Example, ...]]:
    """Train / dev / test (80 / 10 / 10) within each label, shuffled by ``seed``; each split in key order."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"the split seed must be a whole number >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    out: dict[str, list[Example]] = {name: [] for name in SPLIT_NAMES}
    for label in sorted({e.label for e in examples}):
        members = [e for e in examples if e.label == label]
        order = rng.permutation(len(members))
        cut_train = int(round(SPLIT_FRACTIONS[0] * len(members)))
        cut_dev = cut_train + int(round(SPLIT_FRACTIONS[1] * len(members)))
        for split, rows in zip(SPLIT_NAMES, (order[:cut_train], order[cut_train:cut_dev], order[cut_dev:])):
            out[split] += [members[i] for i in rows]
    return {name: tuple(sorted(rows, key=lambda e: (e.label, int(e.key.rsplit("/", 1)[1])))) for name, rows in
            out.items()}


def load_task(name: str, seed: int = 0, folder: str | os.PathLike | None = None,
              offline: bool | None = None) -> TaskSplits:
    """A task's fixed seeded splits: a pinned task by name, or ``csv:PATH`` (``task_from_csv``).

    Examples
    --------
    >>> task = load_task("sentence_polarity")                # doctest: +SKIP
    >>> len(task.train), len(task.dev), len(task.test)      # doctest: +SKIP
    (8530, 1066, 1066)
    """
    if name.startswith("csv:"):
        examples, labels, source = _csv_task(Path(name[4:]))
    else:
        examples = task_examples(name, folder, offline)   # refuses an unknown name first
        labels, source = TASKS[name].labels, SHA256[TASKS[name].corpus]
    splits = split_examples(examples, seed)
    payload = f"{name} {source} split v{SPLIT_VERSION} seed {seed}"
    return TaskSplits(name, labels, splits["train"], splits["dev"], splits["test"], seed,
                      hashlib.sha256(payload.encode()).hexdigest())
