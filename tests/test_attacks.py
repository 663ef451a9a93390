"""Offline attacks (issue #29): seeded, within their query and edit budgets, and able both to succeed and to fail."""
import numpy as np
import pytest

from discover.errors import ConfigError, UnknownNameError
from discover.robustness.attacks import MAX_EDIT_DISTANCE, Attack, character_edit, summarise, _edit_distance


def keyword_victim(word="good"):
    """Positive (label 1) exactly when ``word`` is in the sentence: a classifier with one weak point."""
    def victim(texts):
        hit = np.array([float(word in t.split()) for t in texts])
        p = 0.1 + 0.8 * hit
        return np.stack([1 - p, p], 1)
    return victim


def test_deepwordbug_breaks_the_one_word_that_matters_and_is_seeded():
    attack = Attack("deepwordbug", max_queries=50, seed=0)
    result = attack.run(keyword_victim(), "the film is good and long", 1, "k1")
    assert result.status == "succeeded" and result.words_changed == 1 and "good" not in result.perturbed.split()
    assert result.queries <= 50 and result.fraction_perturbed == pytest.approx(1 / 6)
    assert attack.run(keyword_victim(), "the film is good and long", 1, "k1") == result
    assert {Attack("deepwordbug", seed=s).run(keyword_victim(), "good good movie", 1, "k").perturbed
            for s in range(6)} != {result.perturbed}


def test_an_attack_skips_a_misclassified_sentence_and_fails_on_a_robust_victim():
    attack = Attack("deepwordbug", max_queries=30)
    assert attack.run(keyword_victim(), "a dull film", 1, "k").status == "skipped"
    robust = lambda texts: np.tile([0.2, 0.8], (len(texts), 1))
    failed = attack.run(robust, "the film is good", 1, "k")
    assert failed.status == "failed" and failed.words_changed == 0 and failed.queries <= 30
    summary = summarise([attack.run(keyword_victim(), t, 1, str(i)) for i, t in
                         enumerate(["good film", "a dull film", "a good one"])])
    assert summary["clean_accuracy"] == pytest.approx(2 / 3)
    assert summary["success_rate"] == 1.0 and summary["attacked_accuracy"] == 0.0


def test_the_query_budget_and_the_edit_budget_hold():
    words = " ".join(f"word{i}" for i in range(40))
    stubborn = lambda texts: np.tile([0.4, 0.6], (len(texts), 1))
    result = Attack("deepwordbug", max_queries=25).run(stubborn, words, 1, "k")
    assert result.queries <= 25
    def weakening(texts):   # every edit lowers the true label a little, never enough: edits pile up
        p = np.array([0.9 - 0.001 * sum(not w.startswith("word") for w in t.split()) for t in texts])
        return np.stack([1 - p, p], 1)
    long = Attack("deepwordbug", max_queries=10_000).run(weakening, words, 1, "k")
    assert long.status == "failed"
    spent = sum(_edit_distance(a, b) for a, b in zip(words.split(), long.perturbed.split()))
    assert MAX_EDIT_DISTANCE - 3 <= spent <= MAX_EDIT_DISTANCE   # it stopped at the edit budget, not before


def test_stopwords_are_never_changed():
    result = Attack("deepwordbug", max_queries=100).run(keyword_victim("the"), "the the the", 1, "k")
    assert result.status == "failed" and result.perturbed == "the the the"


def test_character_edits_change_one_place():
    rng = np.random.default_rng(0)
    for _ in range(200):
        edited = character_edit("movie", rng)
        assert edited != "movie" and _edit_distance("movie", edited) <= 2


def test_bad_attack_settings_are_one_clear_error():
    with pytest.raises(UnknownNameError, match="deepwordbug"):
        Attack("textfooler")
    with pytest.raises(ConfigError, match="query budget must be a whole number > 0"):
        Attack("deepwordbug", max_queries=0)
    with pytest.raises(ConfigError, match="needs a masked LM"):
        Attack("bae")


def test_bae_replaces_words_by_what_the_masked_lm_proposes():
    proposer = lambda words, i, k: ["great", "fine", words[i]][:k]
    result = Attack("bae", proposer=proposer, max_queries=50).run(keyword_victim(), "a good film", 1, "k")
    assert result.status == "succeeded" and result.perturbed in ("a great film", "a fine film")


def test_the_attacked_sentences_are_seeded_and_mix_the_labels():
    from discover.robustness.attacks import attacked_examples
    examples = [(i, i // 50) for i in range(100)]   # labels in blocks, as a split lists them
    chosen = attacked_examples(examples, 20)
    assert chosen == attacked_examples(examples, 20) and len(set(chosen)) == 20
    assert {label for _, label in chosen} == {0, 1} and chosen == sorted(chosen)
    assert len(attacked_examples(examples, 500)) == 100
