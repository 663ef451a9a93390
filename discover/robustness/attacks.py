"""Adversarial attacks on sentence classifiers that run offline, seeded, with a query budget (issue #29).

Both attacks are the greedy word-importance search of TextAttack's recipes (``GreedyWordSwapWIR``): words are ranked
by how much deleting each lowers the probability of the true label, then visited in that order; at each word every
candidate replacement is scored and the one that lowers the true label's probability most is kept (if it lowers it
at all); the attack succeeds when the predicted label changes, fails when the words, the edit budget or the query
budget run out. Stopwords are never changed and no word twice (TextAttack's ``StopwordModification`` and
``RepeatModification``).

- ``deepwordbug`` (Gao et al., 2018; TextAttack's ``DeepWordBugGao2018``): one of four character edits per word
  - swap two neighbouring characters, substitute, delete or insert a random letter - at a random position, and at
  most 30 character edits in all (its Levenshtein constraint).
- ``bae`` (Garg & Ramakrishnan, 2020, BAE-R): the word is masked and replaced by the masked LM's top ``top_k``
  whole-word predictions - here the project's own pretrained encoder (the paper uses BERT, and filters by a
  Universal Sentence Encoder similarity and part of speech; neither is available offline, so no semantic filter
  is applied: recorded in every result).

TextAttack itself is not used: its import needs ``flair``, and no release of flair that installs on Python 3.11
accepts the ``transformers`` 5 this project pins. Randomness (DeepWordBug's positions and letters) comes from a
generator seeded by the attack's seed and the sentence's key, so an attack gives the same result on every run and
in any order of sentences.

A victim is any function from a list of sentences to their class probabilities (rows sum to one).
"""
from __future__ import annotations

import functools
import hashlib
import string
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError, UnknownNameError

Victim = Callable[[Sequence[str]], np.ndarray]

# TextAttack's default stopword set is the NLTK English list; these are its words (no download needed)
STOPWORDS = frozenset("""a about above after again against ain all am an and any are aren aren't as at be because been
before being below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don don't down
during each few for from further had hadn hadn't has hasn hasn't have haven haven't having he her here hers herself him
himself his how i if in into is isn isn't it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my
myself needn needn't no nor not now o of off on once only or other our ours ourselves out over own re s same shan
shan't she she's should should've shouldn shouldn't so some such t than that that'll the their theirs them themselves
then there these they this those through to too under until up ve very was wasn wasn't we were weren weren't what
when where which while who whom why will with won won't wouldn wouldn't y you you'd you'll you're you've your yours
yourself yourselves""".split())
LETTERS = string.ascii_lowercase
MAX_EDIT_DISTANCE = 30   # DeepWordBug's Levenshtein budget over the whole sentence
ATTACKS = ("deepwordbug", "bae")


@dataclass(frozen=True)
class AttackResult:
    """What one attack did to one sentence."""

    key: str
    status: str              # "skipped" (already misclassified), "succeeded" or "failed"
    original: str
    perturbed: str
    words_changed: int
    words: int
    queries: int

    @property
    def fraction_perturbed(self) -> float:
        """The share of the sentence's words the attack changed."""
        return self.words_changed / max(1, self.words)


def _rng(seed: int, key: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def character_edit(word: str, rng: np.random.Generator) -> str:
    """One of DeepWordBug's four edits of ``word`` at a random position (a word of one letter is only substituted
    or grown)."""
    kinds = ("swap", "substitute", "delete", "insert") if len(word) > 1 else ("substitute", "insert")
    kind = kinds[rng.integers(len(kinds))]
    if kind == "swap":
        i = int(rng.integers(len(word) - 1))
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "delete":
        i = int(rng.integers(len(word)))
        return word[:i] + word[i + 1:]
    letter = LETTERS[rng.integers(len(LETTERS))]
    if kind == "insert":
        i = int(rng.integers(len(word) + 1))
        return word[:i] + letter + word[i:]
    i = int(rng.integers(len(word)))
    return word[:i] + (letter if letter != word[i] else LETTERS[(LETTERS.index(letter) + 1) % 26]) + word[i + 1:]


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class Attack:
    """A seeded greedy word-swap attack with a query budget.

    Parameters
    ----------
    name : {"deepwordbug", "bae"}
    max_queries : int
        Victim queries allowed per sentence (each sentence scored counts one).
    candidates : int
        DeepWordBug: random character edits tried per word; BAE: the masked LM's top-k words.
    proposer : callable, optional
        BAE only: ``proposer(words, i, k)`` -> up to ``k`` replacement words for ``words[i]`` (``mlm_proposer``).
    seed : int
    """

    def __init__(self, name: str, max_queries: int = 200, candidates: int = 8, proposer=None, seed: int = 0):
        if name not in ATTACKS:
            raise UnknownNameError("attack", name, ATTACKS)
        if not isinstance(max_queries, int) or max_queries <= 0:
            raise ConfigError(f"the query budget must be a whole number > 0, not {max_queries!r}")
        if not isinstance(candidates, int) or candidates <= 0:
            raise ConfigError(f"candidates per word must be a whole number > 0, not {candidates!r}")
        if name == "bae" and proposer is None:
            raise ConfigError("the bae attack needs a masked LM to propose words (proposer=mlm_proposer(...))")
        self.name, self.max_queries, self.candidates, self.proposer, self.seed = \
            name, max_queries, candidates, proposer, seed

    def describe(self) -> dict:
        """The settings, as results record them."""
        return {"attack": self.name, "max_queries": self.max_queries, "candidates": self.candidates,
                "seed": self.seed, "semantic_filter": None,
                "stopwords": "NLTK English (TextAttack's default)", "max_edit_distance":
                    MAX_EDIT_DISTANCE if self.name == "deepwordbug" else None}

    def _replacements(self, words: list[str], i: int, rng: np.random.Generator) -> list[str]:
        if self.name == "deepwordbug":
            return list(dict.fromkeys(character_edit(words[i], rng) for _ in range(self.candidates)))
        return [w for w in self.proposer(words, i, self.candidates) if w != words[i]]

    def run(self, victim: Victim, text: str, label: int, key: str) -> AttackResult:
        """Attack one sentence whose true label is ``label``."""
        words = text.split()
        probs = victim([text])[0]
        queries = 1
        if probs.argmax() != label or not words:
            return AttackResult(key, "skipped", text, text, 0, len(words), queries)
        rng = _rng(self.seed, key)
        open_words = [i for i, w in enumerate(words) if w.lower() not in STOPWORDS]
        budget = self.max_queries - queries
        deleted = [" ".join(words[:i] + words[i + 1:]) for i in open_words][:budget]
        if deleted:
            drops = probs[label] - victim(deleted)[:, label]
            queries += len(deleted)
            order = [open_words[j] for j in np.argsort(-drops, kind="stable")]
        else:
            order = []
        current, best = list(words), probs[label]
        changed: set[int] = set()
        for i in order:
            budget = self.max_queries - queries
            if budget <= 0:
                break
            options = self._replacements(current, i, rng)
            if self.name == "deepwordbug":
                spent = sum(_edit_distance(words[j], current[j]) for j in changed)
                options = [w for w in options if spent + _edit_distance(words[i], w) <= MAX_EDIT_DISTANCE]
            options = options[:budget]
            if not options:
                continue
            trials = [current[:i] + [w] + current[i + 1:] for w in options]
            scored = victim([" ".join(t) for t in trials])
            queries += len(trials)
            pick = int(np.argmin(scored[:, label]))
            if scored[pick, label] < best:
                current, best = trials[pick], scored[pick, label]
                changed.add(i)
                if scored[pick].argmax() != label:
                    return AttackResult(key, "succeeded", text, " ".join(current), len(changed), len(words),
                                        queries)
        return AttackResult(key, "failed", text, " ".join(current), len(changed), len(words), queries)


def attacked_examples(examples: Sequence, count: int, seed: int = 0) -> list:
    """The ``count`` examples every sub-network is attacked on: drawn without replacement by a generator seeded by
    ``seed``, in their split order (a split lists its labels in blocks, so its first rows would be one label)."""
    rng = np.random.default_rng(seed)
    return [examples[i] for i in sorted(rng.choice(len(examples), min(count, len(examples)), replace=False))]


def summarise(results: Sequence[AttackResult]) -> dict[str, float]:
    """Clean accuracy, accuracy under attack, attack success rate (of the sentences classified right) and the mean
    fraction of words perturbed (of the successful attacks), as TextAttack reports them."""
    n = len(results)
    correct = [r for r in results if r.status != "skipped"]
    succeeded = [r for r in correct if r.status == "succeeded"]
    return {"clean_accuracy": len(correct) / n if n else float("nan"),
            "attacked_accuracy": (len(correct) - len(succeeded)) / n if n else float("nan"),
            "success_rate": len(succeeded) / len(correct) if correct else float("nan"),
            "perturbed_fraction": float(np.mean([r.fraction_perturbed for r in succeeded])) if succeeded
            else float("nan"),
            "queries": float(np.mean([r.queries for r in results])) if results else float("nan")}


def mlm_proposer(model, tok, max_tokens: int = 64):
    """BAE's replacement words from a masked LM (``model``: a Hugging Face masked LM; ``tok``: its
    ``TextTokenizer``): the word is replaced by one mask token, and the most likely tokens there that decode to a
    whole alphabetic word of two letters or more are proposed, most likely first."""
    import torch

    from ..text import MASK_ID
    backend = tok.backend
    # the tokens that are a whole word as they would follow a space / open the sentence
    vocab = [tok.decode([i]) for i in range(tok.vocab_size)]
    spaced = np.array([v.startswith(" ") and v[1:].isalpha() and len(v) > 2 for v in vocab])
    opening = np.array([v.isalpha() and len(v) > 1 for v in vocab])

    # the proposals depend on the words alone, not on the victim, and sub-networks attacked on the same sentences
    # mostly visit the same words first: computed once per (words, position, k)
    @functools.lru_cache(maxsize=65_536)
    def cached(words: tuple[str, ...], i: int, k: int) -> tuple[str, ...]:
        return tuple(_propose(list(words), i, k))

    def propose(words: list[str], i: int, k: int) -> list[str]:
        return list(cached(tuple(words), i, k))

    @torch.no_grad()
    def _propose(words: list[str], i: int, k: int) -> list[str]:
        prefix = backend.encode(" ".join(words[:i])).ids if i else []
        suffix = backend.encode(" " + " ".join(words[i + 1:])).ids if i + 1 < len(words) else []
        keep = max(0, max_tokens - 1 - len(prefix))
        ids = torch.tensor([prefix[-max_tokens + 1:] + [MASK_ID] + suffix[:keep]])[:, :max_tokens]
        at = min(len(prefix), max_tokens - 1)
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, at].numpy()
        allowed = spaced if i else opening
        ranked = np.argsort(-np.where(allowed, logits, -np.inf), kind="stable")[:k]
        return [vocab[j].strip() for j in ranked if allowed[j]]

    return propose
