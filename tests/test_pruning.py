"""Pruning trained language models: the corpus, reference training, surgery, the stored spaces, the criteria and
the prune verb (issue #27). Tiny models, trained in seconds on the real corpus where a test needs text."""
import copy
import gzip
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from discover.benchmarks import trained
from discover.benchmarks.pruning.mixed import TOLERANCE, compositions, mixed_ids, unit_weights
from discover.benchmarks.pruning.space import blocks_of, make_id, parse_id, space_ids, subnetwork
from discover.cli import main
from discover.errors import ConfigError, DataError
from discover.pruning.calibration import unit_statistics
from discover.pruning.criteria import CRITERIA, criteria_for, removed_units
from discover.pruning.ship import parse_share, removal_count
from discover.pruning.table import equal_size_difference, equal_size_kendall, space_table

TINY = {"llama": {"model_type": "llama", "vocab_size": 4096, "hidden_size": 32, "intermediate_size": 64,
                  "num_hidden_layers": 4, "num_attention_heads": 2, "num_key_value_heads": 2,
                  "max_position_embeddings": 256, "tie_word_embeddings": False, "bos_token_id": 0,
                  "eos_token_id": 0, "pad_token_id": 1},
        "gpt2": {"model_type": "gpt2", "vocab_size": 4096, "n_embd": 32, "n_inner": 64, "n_layer": 4, "n_head": 2,
                 "n_positions": 256, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "bos_token_id": 0,
                 "eos_token_id": 0, "pad_token_id": 1}}


def random_model(family: str):
    from discover.benchmarks import hf
    spec = {"task": "causal-lm", "num_labels": None, "hf": TINY[family]}
    torch.manual_seed(0)
    return hf.model_class(spec).from_config(hf.hf_config(spec)).eval()


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_removing_heads_and_channel_groups_equals_masking_them(family):
    model = random_model(family)
    ids = torch.randint(0, 4096, (2, 12))
    heads = subnetwork(model, "heads-1.0-3.1", 2)
    masked = copy.deepcopy(model)
    with torch.no_grad():
        for block, head in [(1, 0), (3, 1)]:
            layer = blocks_of(masked)[block]
            if family == "llama":
                layer.self_attn.o_proj.weight[:, head * 16:(head + 1) * 16] = 0
            else:
                layer.attn.c_proj.weight[head * 16:(head + 1) * 16, :] = 0
    assert torch.allclose(heads(input_ids=ids).logits, masked(input_ids=ids).logits, atol=1e-5)
    assert sum(p.numel() for p in heads.parameters()) < sum(p.numel() for p in model.parameters())
    ffn = subnetwork(model, "ffn-0.3-2.1", 2)
    masked = copy.deepcopy(model)
    with torch.no_grad():
        for block, group in [(0, 3), (2, 1)]:
            mlp = blocks_of(masked)[block].mlp
            if family == "llama":
                mlp.down_proj.weight[:, group * 16:(group + 1) * 16] = 0
            else:
                mlp.c_proj.weight[group * 16:(group + 1) * 16, :] = 0
    assert torch.allclose(ffn(input_ids=ids).logits, masked(input_ids=ids).logits, atol=1e-5)
    depth = subnetwork(model, "drop-0-2", 2)
    assert len(blocks_of(depth)) == 2 and len(blocks_of(model)) == 4   # the reference is never changed


def test_space_ids_are_seeded_equal_size_and_never_empty_a_block():
    assert space_ids("depth", 8, 4) == space_ids("depth", 8, 4)
    assert len(space_ids("depth", 8, 4)) == 8 + 28 + 56 + 70
    heads = space_ids("heads", 8, 4, limit=50, seed=3)
    assert heads == space_ids("heads", 8, 4, limit=50, seed=3) != space_ids("heads", 8, 4, limit=50, seed=4)
    assert {len(parse_id(i)[1]) for i in heads} == {8}
    for arch_id in heads:
        blocks = [b for b, _ in parse_id(arch_id)[1]]
        assert max(blocks.count(b) for b in set(blocks)) < 4
    with pytest.raises(DataError, match="every block"):
        subnetwork(random_model("gpt2"), "drop-0-1-2-3", 2)
    with pytest.raises(DataError, match="not a sub-network id"):
        parse_id("drop-3-x")


def test_a_share_to_remove_is_checked_before_any_work():
    assert parse_share("25%") == 0.25 and parse_share("50") == 0.5 and parse_share("0.5") == 0.5
    for bad in ("0%", "100%", "150%", "-3", "abc", "nan"):
        with pytest.raises(ConfigError):
            parse_share(bad)
    assert removal_count(0.25, 8, "depth") == 2
    with pytest.raises(ConfigError, match="removes none"):
        removal_count(0.01, 8, "depth")


def test_criteria_sum_the_removed_units_importance_by_hand():
    units = pd.DataFrame({"block": [0, 1, 2, 3], "removal_loss": [0.5, 0.1, 0.2, 0.9],
                          "taylor": [1.0, 2.0, 3.0, 4.0], "magnitude": [1.0, 1.0, 2.0, 2.0],
                          "position": [0, 1 / 3, 2 / 3, 1]}, index=pd.Index(["0", "1", "2", "3"], name="unit"))
    candidates = pd.DataFrame({"arch_id": ["drop-1-2", "drop-0-3", "drop-1-3"], "calibration_loss": [3.0, 4.0, 3.5]})
    assert CRITERIA["shortened_ppl"].score(candidates, units, "depth").tolist() == pytest.approx([-0.3, -1.4, -1.0])
    assert CRITERIA["sleb"].score(candidates, units, "depth").tolist() == [-3.0, -4.0, -3.5]
    # Taylor+ never removes the first or last block: those candidates rank below any other
    taylor = CRITERIA["taylor_plus"].score(candidates, units, "depth")
    assert taylor[0] == -5.0 and taylor[1] < taylor[0] and taylor[2] < taylor[0]
    assert {c.name for c in criteria_for("heads")} >= {"llm_pruner", "wanda", "flap", "sleb"}
    assert "block_influence" not in {c.name for c in criteria_for("ffn")}
    table = space_table(candidates.assign(heldout_loss=[3.1, 4.2, 3.3]), units, "depth", "weights")
    assert table["target"].tolist() == [-3.1, -4.2, -3.3]
    assert table["removed_sum_magnitude"].tolist() == [3.0, 3.0, 3.0]
    assert table["removed_min_position"].tolist() == pytest.approx([1 / 3, 0, 1 / 3])
    assert "calibration_loss" not in table and "heldout_loss" not in table


def test_equal_size_kendall_compares_only_candidates_of_one_size():
    target = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    removed = np.array([1, 1, 1, 2, 2, 2])
    within = np.array([3.0, 2.0, 1.0, 6.0, 5.0, 4.0])   # wrong inside each size, right across sizes
    assert equal_size_kendall(within, target, removed) == pytest.approx(-1.0)
    assert equal_size_kendall(target, target, removed) == pytest.approx(1.0)
    diff = equal_size_difference(target, within, target, removed, resamples=200)
    assert diff["difference"] == pytest.approx(2.0) and diff["low"] <= diff["difference"] <= diff["high"]



@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_sub_networks_measure_a_shared_matrix_once_and_get_the_same_features(family, monkeypatch):
    """A space's candidates share their model's untouched matrices; with a memo each distinct one costs one SVD,
    and every feature is the value measured without it, bit for bit."""
    from discover.benchmarks import hf
    from discover.features.table import featurize_model
    from primitives import features
    model = random_model(family)
    ids = ["drop-1", "drop-0-3", "heads-0.1-2.0", "ffn-1.2-3.0"]
    plain = []
    for arch_id in ids:
        sub = subnetwork(model, arch_id, 2)
        hf.tag_model(sub)
        plain.append(featurize_model(sub))
    calls = []
    real = features.singular_values
    monkeypatch.setattr(features, "singular_values", lambda m, name="matrix": calls.append(name) or real(m, name))
    memo = {}
    for arch_id, expected in zip(ids, plain):
        sub = subnetwork(model, arch_id, 2)
        hf.tag_model(sub)
        got = featurize_model(sub, memo)
        assert got.keys() == expected.keys()
        assert all(got[k] == expected[k] or (np.isnan(got[k]) and np.isnan(expected[k])) for k in got), arch_id
    from primitives.decompose import decompose
    whole = sum(1 for t in decompose(model) if t.matrix() is not None and t.kind != "bias")
    assert len(calls) == len(memo)                  # one SVD per distinct matrix ...
    assert len(memo) < len(ids) * whole / 2         # ... and most of the candidates' matrices are the model's own

# --- folders from elsewhere ----------------------------------------------------------------------------------------

@pytest.fixture
def tiny_folder(tmp_path):
    model = random_model("gpt2")
    card = {"name": "tiny", "family": "gpt2", "corpus": "0" * 64, "tokenizer": "0" * 64, "weights_sha256": "0" * 64,
            "seed": 0, "steps": 0, "batch": 1, "seq_len": 8, "lr": 0.001, "threads": 1, "train_loss": 1.0,
            "heldout_loss": 1.0, "unigram_loss": 1.0, "heldout_tokens": 1, "train_seconds": 0.0, "device": "cpu"}
    return trained.save_model(tmp_path / "tiny", model, card), model


def test_a_trained_folder_round_trips_and_refuses_code_pickles_and_wrong_shapes(tiny_folder, capsys):
    folder, model = tiny_folder
    loaded, _ = trained.load_model(folder)
    ids = torch.randint(0, 4096, (1, 8))
    assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
    assert trained.read_card(folder).weights_sha256 == trained.weights_digest(folder)
    config = json.loads((folder / "config.json").read_text())
    bad = folder.parent / "code"
    shutil.copytree(folder, bad)
    (bad / "config.json").write_text(json.dumps({**config, "text_config": {"auto_map": {"x": "evil.Model"}}}))
    with pytest.raises(DataError, match="auto_map names code"):
        trained.load_model(bad)
    pickled = folder.parent / "pickled"
    shutil.copytree(folder, pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(DataError, match="pickled"):
        trained.load_model(pickled)
    wrong = folder.parent / "wrong"
    shutil.copytree(folder, wrong)
    (wrong / "config.json").write_text(json.dumps({**config, "n_inner": 48}))
    with pytest.raises(DataError, match="has shape"):
        trained.load_model(wrong)
    empty = folder.parent / "empty"
    empty.mkdir()
    (empty / "config.json").write_text(json.dumps(config))
    assert main(["prune", str(empty), "--remove", "25%"]) == 2
    assert "model.safetensors is missing" in capsys.readouterr().err


# --- the corpus and models trained on it -------------------------------------------------------------------------

def test_the_corpus_splits_by_document_and_refuses_an_altered_zip(corpora, tmp_path):
    from discover.text import corpus
    held = corpus.lm_documents("heldout", corpora=("inaugural",))
    train = corpus.lm_documents("train", corpora=("inaugural",))
    assert held and train and not {d.key for d in held} & {d.key for d in train}
    assert [d.key for d in held] == [d.key for d in corpus.lm_documents("heldout", corpora=("inaugural",))]
    altered = tmp_path / "altered"
    altered.mkdir()
    data = bytearray((corpora / "inaugural.zip").read_bytes())
    data[-10] ^= 1
    (altered / "inaugural.zip").write_bytes(bytes(data))
    with pytest.raises(DataError, match="sha256 differs"):
        corpus.corpus_zip("inaugural", altered)
    with pytest.raises(DataError, match="is not at"):
        corpus.corpus_zip("inaugural", tmp_path / "none", offline=True)
    brown = corpus.documents("brown", corpora)[0].text
    assert "/" not in brown.split("\n")[0] and "Fulton County" in brown


@pytest.fixture(scope="session")
def tiny_reference(corpora, tmp_path_factory):
    """A 4-block GPT-2 trained for a few steps on the real text (its tokenizer is trained once per session)."""
    from discover.benchmarks.pruning.reference import train_reference
    folder = tmp_path_factory.mktemp("models") / "tiny"
    card = train_reference("tiny", folder, config=TINY["gpt2"], steps=4, threads=1, heldout_windows=8)
    return folder, card


def test_reference_training_is_seeded_and_recorded(tiny_reference, tmp_path):
    from discover.benchmarks.pruning.reference import train_reference
    folder, card = tiny_reference
    again = train_reference("tiny", tmp_path / "again", config=TINY["gpt2"], steps=4, threads=1, heldout_windows=8)
    assert again["weights_sha256"] == card["weights_sha256"] == trained.weights_digest(folder)
    assert card["steps"] == 4 and card["unigram_loss"] > 5 and card["heldout_tokens"] == 8 * 128


@pytest.mark.parametrize("name, family, cls", [("bert-6", "bert", "BertForMaskedLM"),
                                               ("roformer-6", "roformer", "RoFormerForMaskedLM")])
def test_the_encoder_learns_masked_tokens_seeded_and_is_no_pruning_model(corpora, tmp_path, name, family, cls):
    """The robustness study's encoder (issue #29): a BERT-style encoder (learned or rotary positions) trained on
    masked tokens, reproducible, read back as a masked LM, and refused where a causal one is needed."""
    from discover.benchmarks.pruning.evaluate import mean_masked_loss, windows
    from discover.benchmarks.pruning.reference import HELDOUT_MASK_SEED, reference_config, train_reference
    from discover.pruning.ship import prune_model
    from discover.text import MASK_ID, token_ids, tokenizer
    config = {**reference_config(name, 4096), "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 2}
    config.update({"embedding_size": 32} if family == "roformer" else {})
    card = train_reference("bert-tiny", tmp_path / "a", config=config, steps=3, threads=1, heldout_windows=8)
    again = train_reference("bert-tiny", tmp_path / "b", config=config, steps=3, threads=1, heldout_windows=8)
    assert card["family"] == family and card["weights_sha256"] == again["weights_sha256"]
    model, _ = trained.load_model(tmp_path / "a", task="masked-lm")
    assert type(model).__name__ == cls
    held = windows(token_ids("heldout", tokenizer()), 128, 8)[:, :-1]
    assert mean_masked_loss(model, held, MASK_ID, HELDOUT_MASK_SEED) == pytest.approx(card["heldout_loss"])
    with pytest.raises(DataError, match=f"'{family}' masked-lm model; this needs a causal-lm model"):
        trained.load_model(tmp_path / "a", task="causal-lm")
    with pytest.raises(DataError, match="needs a causal-lm model"):
        prune_model(str(tmp_path / "a"), kind="depth", remove=0.5)


def test_a_stored_space_is_resumed_read_back_and_refused_for_other_weights(tiny_reference, tmp_path):
    from discover.pruning import space_values
    folder, _ = tiny_reference
    candidates, units, provenance = space_values.compute_space(folder, "depth", out=tmp_path, progress=False)
    assert len(candidates) == 4 + 6 and list(units.index) == ["0", "1", "2", "3"]
    assert np.isfinite(candidates["heldout_loss"]).all() and (units["removal_loss"] > -1).all()
    request = space_values.request(folder, "depth")
    read, _, _ = space_values.read_space("tiny", "depth", tmp_path, expected=request)
    assert np.allclose(read["heldout_loss"], candidates["heldout_loss"], rtol=1e-9)
    with pytest.raises(DataError, match="weights_sha256"):
        space_values.read_space("tiny", "depth", tmp_path, expected={**request, "weights_sha256": "f" * 64})
    path = tmp_path / "tiny-depth.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress("\n".join(lines[:-1]).encode()))
    with pytest.raises(DataError, match="damaged"):
        space_values.read_space("tiny", "depth", tmp_path)


def test_prune_ships_one_sub_network_per_method(tiny_reference, tmp_path, capsys):
    from discover import prune_model
    folder, _ = tiny_reference
    table = prune_model(folder, "depth", 0.5, methods=["sleb", "block_influence", "magnitude"])
    assert set(table["method"]) == {"sleb", "block_influence", "magnitude"}
    assert all(len(parse_id(i)[1]) == 2 for i in table["sub_network"])
    assert table["heldout_loss"].is_monotonic_increasing
    out = tmp_path / "picks.csv"
    assert main(["prune", str(folder), "--kind", "heads", "--remove", "25%", "--proxy", "llm_pruner",
                 "-o", str(out)]) == 0
    assert "llm_pruner" in capsys.readouterr().out and len(pd.read_csv(out)) == 1
    assert main(["prune", str(folder), "--remove", "100%", "-o", str(tmp_path / "no.csv")]) == 2
    assert not (tmp_path / "no.csv").exists()
    # mixed: every pick removes the share of the blocks' weights, whatever units it chose
    mixed = prune_model(folder, "mixed", 0.4, methods=["sleb", "shortened_ppl", "magnitude"], limit=12)
    assert mixed.attrs["candidates"] == 12 and all(parse_id(i)[0] == "mixed" for i in mixed["sub_network"])
    assert main(["prune", str(folder), "--kind", "mixed", "--remove", "40%", "--proxy", "taylor_plus"]) == 2
    assert "does not apply to mixed pruning" in capsys.readouterr().err


def test_recovery_fine_tunes_a_seeded_subset_the_same_way_twice_and_checks_its_space(tiny_reference, tmp_path):
    """Issue #27's recovery: every sampled candidate is fine-tuned (LoRA, merged back) on the same seeded batches,
    which lowers its loss, the same to the last digit on a second run; a table made from another space is refused."""
    from discover.pruning import recovery, space_values
    folder, _ = tiny_reference
    space_values.compute_space(folder, "depth", out=tmp_path, progress=False)
    settings = {"count": 4, "steps": 3, "batch": 2}
    table, provenance = recovery.compute_recovery(folder, "depth", settings=settings, root=tmp_path,
                                                  progress=False)
    assert len(table) == 4 and set(table["arch_id"]) <= set(space_values.space_ids("depth", 4, 2))
    assert (table["recovered_loss"] < table["heldout_loss"]).all()
    again = tmp_path / "again"
    again.mkdir()
    for path in tmp_path.glob("tiny-depth*"):
        shutil.copy(path, again / path.name)
    (again / "tiny-depth-recovered.json").unlink()
    os_cache = recovery.cache.cache_dir().parent / "pruning-recovery"
    shutil.rmtree(os_cache)                              # recomputed, not read back from the record store
    second, _ = recovery.compute_recovery(folder, "depth", settings=settings, root=again, progress=False)
    assert second["recovered_loss"].tolist() == table["recovered_loss"].tolist()
    expected = recovery.recovery_request(folder, "depth", settings)
    read, _ = recovery.read_recovery("tiny", "depth", tmp_path, expected=expected)
    assert np.allclose(read["recovered_loss"], table["recovered_loss"], rtol=1e-9)   # as stored: 10 digits
    with pytest.raises(DataError, match="another space, settings or code"):
        recovery.read_recovery("tiny", "depth", tmp_path, expected={**expected, "version": -1})
    with pytest.raises(DataError, match="pruning space provenance"):
        recovery.compute_recovery(folder, "heads", settings=settings, root=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="unknown recovery setting 'stpes'"):
        recovery.recovery_request(folder, "depth", {"stpes": 3})



def test_a_model_of_your_own_is_measured_into_a_space_that_compare_and_search_read(tiny_reference, tmp_path, capsys):
    """Issue #27's user model: a folder without a card (its own tokenizer.json, named by its folder) measured into a
    space of its own; the same weights through the same tokenizer give the reference model's space, value for value."""
    import hashlib

    from discover import compare_pruning, measure_pruning_space
    from discover.pruning import space_values
    from discover.text import tokenizer
    folder, _ = tiny_reference
    own, spaces = tmp_path / "my model", tmp_path / "spaces"
    own.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(folder / name, own / name)
    with pytest.raises(DataError, match="tokenizer.json is missing"):
        measure_pruning_space(own, "depth", spaces)
    assert not spaces.exists()
    (own / "tokenizer.json").write_text(tokenizer().json)
    meta = measure_pruning_space(own, "depth", spaces)
    assert meta["name"] == f"pruning:{spaces}/my-model-depth" and meta["candidates"] == 10
    assert meta["request"]["tokenizer"] == hashlib.sha256((own / "tokenizer.json").read_bytes()).hexdigest()
    reference, _, _ = space_values.compute_space(folder, "depth", out=tmp_path / "reference", progress=False)
    mine, _, _ = space_values.read_space("my-model", "depth", spaces)
    assert mine["arch_id"].tolist() == reference["arch_id"].tolist()
    assert np.allclose(mine["heldout_loss"], reference["heldout_loss"], rtol=1e-9)
    report = compare_pruning(meta["name"], ["sleb", "magnitude"])
    assert report.attrs["request"]["model"] == "my-model" and set(report["method"]) == {"sleb", "magnitude"}
    # the same from the command line: store a second kind, compare it, search the first
    assert main(["prune", str(own), "--kind", "heads", "--store", str(spaces), "--limit", "8", "-q"]) == 0
    assert f"pruning:{spaces}/my-model-heads: 8 sub-networks" in capsys.readouterr().out
    assert main(["compare", f"pruning:{spaces}/my-model-heads", "-q"]) == 0
    assert "llm_pruner" in capsys.readouterr().out
    run = tmp_path / "run"
    assert main(["search", f"pruning:{spaces}/my-model-depth", "-o", str(run), "--population", "30",
                 "--generations", "2", "--folds", "1", "--jobs", "1", "-q"]) == 0
    assert json.loads((run / "config.json").read_text())["arguments"]["benchmarks"] == [f"pruning:{spaces}/my-model-depth"]
    assert main(["prune", str(own), "--store", str(tmp_path / "x"), "--proxy", "sleb"]) == 2
    assert "--proxy does not apply with --store" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with pytest.raises(DataError, match="no stored pruning space"):
        compare_pruning(f"pruning:{spaces}/my-model-ffn")

def test_a_model_of_your_own_reads_its_text_once_cached_and_its_end_id_keeps_its_own_cache(tiny_reference, tmp_path,
                                                                                             monkeypatch):
    """A card-less folder's token ids are cached like the project's (keyed by its tokenizer and its end id, so ids
    made with one end id are never read for another), and a tokenizer.json the library cannot read is refused."""
    from discover.pruning.model_text import model_text
    from discover.text import EOS_ID, token_ids, tokenizer
    from discover.text import tokens
    folder, _ = tiny_reference
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(folder / "model.safetensors", own / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (own / "config.json").write_text(json.dumps({**config, "eos_token_id": EOS_ID}))
    (own / "tokenizer.json").write_text(tokenizer().json)
    reference = token_ids("heldout")
    text = model_text(own)
    assert text.card is None and text.eos == EOS_ID and np.array_equal(text.token_ids("heldout"), reference)
    (own / "config.json").write_text(json.dumps({**config, "eos_token_id": 5}))
    other = model_text(own).token_ids("heldout")
    assert np.array_equal(other, np.where(reference == EOS_ID, 5, reference))

    def no_text(*args, **kwargs):
        raise AssertionError("tokenized again: the cached ids were not used")
    monkeypatch.setattr(tokens, "lm_documents", no_text)
    assert np.array_equal(model_text(own).token_ids("heldout"), other)
    assert np.array_equal(token_ids("heldout"), reference)
    (own / "config.json").write_text(json.dumps({**config, "eos_token_id": 5, "vocab_size": 100}))
    with pytest.raises(DataError, match="has vocab_size 100; this is not the model's tokenizer"):
        model_text(own).token_ids("heldout")
    (own / "tokenizer.json").write_text("{not a tokenizer")
    with pytest.raises(DataError, match="not a tokenizer the tokenizers library reads"):
        model_text(own)


# --- mixed sub-networks at a fixed weight budget (pruning kind (d)) ----------------------------------------------

def weights(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_a_mixed_id_reads_back_and_refuses_overlap_and_disorder():
    units = (("depth", 1), ("heads", (0, 1)), ("heads", (2, 0)), ("ffn", (3, 2)))
    assert make_id("mixed", units[::-1]) == "mix-d1-h0.1-h2.0-f3.2"
    assert parse_id("mix-d1-h0.1-h2.0-f3.2") == ("mixed", units)
    with pytest.raises(DataError, match="removes whole"):
        parse_id("mix-d1-h1.0")
    with pytest.raises(DataError, match="increasing order"):
        parse_id("mix-h2.0-h0.1")
    with pytest.raises(DataError, match="not a sub-network id"):
        parse_id("mix-f0.1-d2")     # kinds in the order d, h, f
    with pytest.raises(DataError, match="removes nothing"):
        parse_id("mix")


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_mixed_surgery_is_the_three_removals_in_turn_depth_last(family):
    model = random_model(family)
    ids = torch.randint(0, 4096, (2, 12))
    mixed = subnetwork(model, "mix-d1-h0.1-h2.0-f3.2", 2)
    # the same units one kind at a time, block numbers of the full model, the block removed last
    stepwise = subnetwork(subnetwork(subnetwork(model, "heads-0.1-2.0", 2), "ffn-3.2", 2), "drop-1", 2)
    assert torch.allclose(mixed(input_ids=ids).logits, stepwise(input_ids=ids).logits, atol=1e-6)
    assert len(blocks_of(mixed)) == 3 and len(blocks_of(model)) == 4
    unit = unit_weights(model, 2)
    assert weights(model) - weights(mixed) == unit.removed(1, 2, 1)
    with pytest.raises(DataError, match="every head of block 0"):
        subnetwork(model, "mix-h0.0-h0.1", 2)


# shares at which these tiny models have mixes within 1% (GPT-2's biases make its units' sizes less commensurate)
@pytest.mark.parametrize("family, share", [("llama", 0.25), ("gpt2", 0.4)])
def test_mixed_candidates_are_seeded_distinct_and_of_one_size(family, share):
    model = random_model(family)
    ids = mixed_ids(model, 2, share=share, limit=30, seed=0)
    assert ids == mixed_ids(model, 2, share=share, limit=30, seed=0)
    assert ids != mixed_ids(model, 2, share=share, limit=30, seed=1)
    assert len(ids) == len(set(ids)) > 5
    budget = share * sum(weights(b) for b in blocks_of(model))
    kinds_seen = set()
    for arch_id in ids:
        removed = weights(model) - weights(subnetwork(model, arch_id, 2))   # surgery itself: no block emptied
        assert abs(removed - budget) <= TOLERANCE * budget, arch_id
        kinds_seen |= {k for k, _ in parse_id(arch_id)[1]}
    assert kinds_seen == {"depth", "heads", "ffn"}
    with pytest.raises(ConfigError, match="no mix"):
        compositions(unit_weights(model, 2), 0.01)


def test_the_mixed_unit_table_keys_every_kind_and_the_criteria_sum_over_them():
    model = random_model("llama")
    batch = torch.randint(0, 4096, (2, 17))
    units = unit_statistics(model, batch, "mixed")
    assert list(units.index[:5]) == ["d0", "d1", "d2", "d3", "h0.0"] and len(units) == 4 + 4 * 2 + 4 * 4
    assert set(units["unit_kind"]) == {"depth", "heads", "ffn"}
    assert units["removal_loss"].notna().all() and units.loc["d0", "taylor_group"] != units.loc["d0", "taylor_group"]
    candidates = pd.DataFrame({"arch_id": ["mix-d1", "mix-h0.1-h2.0-f3.2"], "removed": 25,
                               "calibration_loss": [1.0, 2.0]})
    assert removed_units(candidates["arch_id"], "mixed") == [["d1"], ["h0.1", "h2.0", "f3.2"]]
    by_hand = -units.loc[["h0.1", "h2.0", "f3.2"], "removal_loss"].sum()
    assert np.isclose(CRITERIA["shortened_ppl"].score(candidates, units, "mixed")[1], by_hand)
    table = space_table(candidates, units, "mixed", "calibration")
    assert "removed_sum_removal_loss" in table and not any("unit_kind" in c for c in table.columns)
    assert "removed_sum_block_influence" not in table   # blocks only: no value for a head or a group
    names = {c.name for c in criteria_for("mixed")}
    assert {"sleb", "shortened_ppl", "magnitude", "wanda", "flap", "taylor"} == names
