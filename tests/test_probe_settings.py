"""The probe's inputs and gradient source: token distributions, text files, ones-gradients, the cache key."""
import math

import pytest
import torch

from discover import load_benchmark
from discover.benchmarks import FAMILIES
from discover.benchmarks.flexibert.model import build_flexibert
from discover.errors import DataError, UnknownNameError
from discover.probing import ProbeRun, ProbeSettings, make_batch
from discover.proxies import PROXIES, data_proxy_table
from tests.test_loaders import GPT2, lts_folder

MIXED = {"hidden_size": 128, "layers": [
    {"operation_type": "LT", "operation_parameter": "DFT", "num_operation_heads": 2, "feed_forward_dimension": 64,
     "num_feed_forward": 1},
    {"operation_type": "SA", "operation_parameter": "WMA", "num_operation_heads": 2, "feed_forward_dimension": 64,
     "num_feed_forward": 1},
    {"operation_type": "DSC", "operation_parameter": 5, "num_operation_heads": 2, "feed_forward_dimension": 64,
     "num_feed_forward": 2}]}


def test_token_distributions_are_seeded_and_in_range():
    for tokens in ("uniform", "zipf"):
        a, b = make_batch(1000, 4, 50, seed=3, tokens=tokens), make_batch(1000, 4, 50, seed=3, tokens=tokens)
        assert torch.equal(a.ids, b.ids) and 0 <= int(a.ids.min()) and int(a.ids.max()) < 1000
    zipf = make_batch(1000, 8, 500, seed=0, tokens="zipf").ids
    # P(id 0) = 1 / H_1000 ~ 0.134: the most frequent id dominates, unlike uniform's 0.001
    assert 0.10 < float((zipf == 0).float().mean()) < 0.17
    with pytest.raises(UnknownNameError, match="token distribution"):
        make_batch(10, 1, 1, tokens="zipfian")


def test_a_text_is_read_as_frequency_ranks_in_seeded_windows(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat saw the dog and the cat ran")   # the:3 cat:2 saw:1 dog:1 and:1 ran:1
    ids = make_batch(100, 3, 4, seed=1, text=text).ids
    ranks = [0, 1, 2, 0, 3, 4, 0, 1, 5]
    windows = [ranks[i:i + 4] for i in range(len(ranks) - 3)]
    assert all(row in windows for row in ids.tolist())
    assert make_batch(3, 2, 9, text=text).ids.max() == 2          # ranks past the vocabulary share its last id
    with pytest.raises(DataError, match="has 9 words; a probe sequence needs 10"):
        make_batch(100, 1, 10, text=text)
    with pytest.raises(DataError, match=r"probe text \(--text\)\): does not exist"):
        make_batch(100, 1, 2, text=tmp_path / "missing.txt")


def test_the_cache_key_keeps_old_caches_and_keys_a_text_by_content(tmp_path):
    assert ProbeSettings().cache_key() == {"batch": None, "seq": None}     # as before these settings existed
    one, two = tmp_path / "a.txt", tmp_path / "b.txt"
    one.write_text("same words here")
    two.write_text("same words here")
    assert ProbeSettings(text=str(one)).cache_key() == ProbeSettings(text=str(two)).cache_key()
    assert ProbeSettings(tokens="zipf", gradient="ones").cache_key() == {"batch": None, "seq": None,
                                                                         "tokens": "zipf", "gradient": "ones"}
    with pytest.raises(UnknownNameError, match="gradient source"):
        ProbeSettings(gradient="loss")


def test_ones_gradients_are_the_backward_of_the_hidden_states_sum():
    model = build_flexibert(MIXED, "legacy")
    run = ProbeRun(model, make_batch(30522, 2, 6, seed=0), FAMILIES["flexibert"], gradient="ones")
    weights = [t.tensor for t in run.weights()]
    expected = torch.autograd.grad(model(run.batch.ids).sum(), weights)
    for t, g in zip(run.weights(), expected):
        torch.testing.assert_close(run.task["grads"][t.name], g)
    # behind the final LayerNorm the exact gradient is zero: what is left is rounding, far below the task loss's
    task = ProbeRun(model, make_batch(30522, 2, 6, seed=0), FAMILIES["flexibert"])
    ratio = PROXIES["snip"].function(run) / PROXIES["snip"].function(task)
    assert ratio < 1e-3


def test_lpzero_bert_by_hand_on_every_kind_of_token_mixer():
    model = build_flexibert(MIXED, "legacy")
    batch = make_batch(30522, 2, 8, seed=0)
    run = ProbeRun(model, batch, FAMILIES["flexibert"])
    value = PROXIES["lpzero_bert"].function(run)
    # by hand: each layer's first projection output (hooks) and its softmax
    outputs = []
    hooks = [layer.mixer.mixer.input.register_forward_hook(lambda m, i, o: outputs.append(o)) if i == 0 else
             layer.mixer.mixer.query.register_forward_hook(lambda m, i, o: outputs.append(o))
             for i, layer in enumerate(model.layers)]
    with torch.no_grad():
        model(batch.ids)
    for h in hooks:
        h.remove()
    lt = outputs[0].view(2, 8, 2, 128).transpose(1, 2)   # legacy width 256, 2 heads
    softmax0 = torch.fft.fft2(lt).real.softmax(-1)
    attention = [m["probs"] for m in run.task["mixers"][1:]]
    softs = [softmax0, *attention]
    expected = sum(float(s.double().sqrt().mean() + o.double().norm()) for s, o in zip(softs, outputs)) / 3
    assert value == pytest.approx(expected, rel=1e-6)
    assert len(run.task["mixers"]) == 3 and math.isfinite(value)


def test_lts_models_record_their_queries(tmp_path):
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', [GPT2])}")
    table = data_proxy_table(bench, ["lpzero_bert"], batch=2, seq=8, use_cache=False)
    assert table["lpzero_bert:error"].isna().all() and (table["lpzero_bert"] > 0).all()


def test_tfnas_head_softmax_confidence_takes_the_max_over_heads():
    model = build_flexibert(MIXED, "legacy")
    run = ProbeRun(model, make_batch(30522, 2, 8, seed=0), FAMILIES["flexibert"])
    expected = sum(float(m["probs"].max(dim=1).values.mean()) for m in run.task["mixers"])
    assert PROXIES["tfnas_head_softmax_confidence"].function(run) == pytest.approx(expected, rel=1e-6)
    assert len(run.task["mixers"]) == 3        # the linear transform's discarded softmax counts, as in their code


def test_tfnas_activation_distance_counts_code_agreements_of_every_ffn_activation():
    model = build_flexibert(MIXED, "legacy")
    run = ProbeRun(model, make_batch(30522, 2, 8, seed=0), FAMILIES["flexibert"])
    hiddens = run.task["ffn_hiddens"]
    assert [len(h) for h in hiddens] == [1, 1, 2]          # one GELU per stacked dense layer
    expected = 0.0
    for h in (h for layer in hiddens for h in layer):
        codes = h[0] > 0                                     # first example: (tokens, features)
        expected += float((codes[:, None, :] == codes[None, :, :]).sum())   # agreeing positions of every pair
    assert PROXIES["tfnas_activation_distance"].function(run) == expected


def test_tfnas_head_confidence_reads_every_input_projection_of_every_mixer():
    model = build_flexibert(MIXED, "legacy")
    batch = make_batch(30522, 2, 8, seed=0)
    run = ProbeRun(model, batch, FAMILIES["flexibert"])
    value = PROXIES["tfnas_head_confidence"].function(run)
    outputs = []                      # forward hooks on the projections their code hooked, by name
    hooks = [getattr(layer.mixer.mixer, name).register_forward_hook(lambda m, i, o: outputs.append(o))
             for layer in model.layers for name in ("query", "key", "value", "input", "weight")
             if getattr(layer.mixer.mixer, name, None) is not None]
    with torch.no_grad():
        model(batch.ids)
    for h in hooks:
        h.remove()
    assert len(outputs) == 1 + 4 + 3          # LT input; WMA query, key, value, weight; DSC query, key, value
    assert value == pytest.approx(sum(float(o.max(dim=1).values.mean()) for o in outputs), rel=1e-6)
