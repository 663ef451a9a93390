"""LoNAS-style elastic sub-networks (issue #29): a masked choice is removed, not just small; names parse back;
training is seeded; a stored super-adapter is read back only on its own base."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from discover.errors import ConfigError, DataError
from discover.robustness import superadapter as sa
from discover.robustness.elastic import (ElasticEncoder, ElasticSpace, SubNetwork, largest, sample_subnetworks,
                                         smallest)

pytest.importorskip("peft")


def tiny_base(seed=0, vocab=64):
    from transformers import RoFormerConfig, RoFormerModel
    torch.manual_seed(seed)
    return RoFormerModel(RoFormerConfig(vocab_size=vocab, hidden_size=32, embedding_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
                                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, 64, (3, 9), generator=g), torch.ones(3, 9, dtype=torch.long)


def test_names_parse_back_and_choices_outside_the_space_are_refused():
    model = ElasticEncoder(tiny_base(), 2)
    sub = SubNetwork((16, 4), (32, 64), (2, 4))
    assert sub.name == "r16.4-f32.64-h2.4" and SubNetwork.parse(sub.name) == sub
    assert largest(model.space, model.config).name == "r16.16-f64.64-h4.4"
    assert smallest(model.space, model.config).name == "r4.4-f32.32-h2.2"
    with pytest.raises(ConfigError, match="rank 5 is not one of"):
        model.use(SubNetwork((5, 4), (32, 64), (2, 4)))
    with pytest.raises(ConfigError, match="has 3 layers; the base has 2"):
        model.use(SubNetwork((4, 4, 4), (32, 32, 32), (2, 2, 2)))
    for bad in ("r16-f32", "r16.4-f32-h2.4", "x"):
        with pytest.raises(ConfigError, match="sub-network"):
            SubNetwork.parse(bad)
    with pytest.raises(ConfigError, match="must lie in"):
        ElasticSpace(ffn_fractions=(0.0, 1.0))


def test_samples_are_distinct_seeded_and_hold_both_ends():
    model = ElasticEncoder(tiny_base(), 2)
    subs = sample_subnetworks(model.space, model.config, 40, seed=3)
    assert len({s.name for s in subs}) == 40
    assert subs[0] == largest(model.space, model.config) and subs[1] == smallest(model.space, model.config)
    assert subs == sample_subnetworks(model.space, model.config, 40, seed=3)
    assert subs != sample_subnetworks(model.space, model.config, 40, seed=4)
    with pytest.raises(ConfigError, match="holds 729 sub-networks"):
        sample_subnetworks(model.space, model.config, 730, seed=0)


def _randomise_adapters(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.normal_(0, 0.2)


@pytest.mark.parametrize("what", ["head", "ffn", "rank"])
def test_what_a_sub_network_leaves_out_does_not_act(what):
    """Weights of a removed head, FFN channel or LoRA component can be anything: the output does not change; the
    same change to a kept one does (so the check can fail)."""
    model = ElasticEncoder(tiny_base(), 2)
    _randomise_adapters(model)
    model.use(SubNetwork((4, 16), (32, 64), (2, 4))).eval()
    ids, mask = batch()
    before = model(ids, mask)
    layer = model.base.encoder.layer[0]
    weight, removed, kept = {
        "head": (layer.attention.self.query.base_layer.weight, slice(16, 32), slice(0, 16)),   # heads 3-4 of 8-wide
        "ffn": (layer.intermediate.dense.base_layer.weight, slice(32, 64), slice(0, 32)),
        "rank": (layer.intermediate.dense.lora_A["default"].weight, slice(4, 16), slice(0, 4))}[what]
    noise = torch.Generator().manual_seed(1)   # not a constant: LayerNorm's output sums to zero over a row
    with torch.no_grad():
        weight[removed] += torch.randn(weight[removed].shape, generator=noise)
        assert torch.allclose(model(ids, mask), before, atol=1e-6)
        weight[kept] += torch.randn(weight[kept].shape, generator=noise)
        assert not torch.allclose(model(ids, mask), before, atol=1e-3)


def test_the_base_is_frozen_and_fresh_adapters_start_as_the_base():
    base = tiny_base()
    ids, mask = batch()
    with torch.no_grad():
        plain = base(input_ids=ids, attention_mask=mask).last_hidden_state.clone()
    model = ElasticEncoder(base, 2).eval()
    assert all("lora_" in n or n.startswith("head.") for n, p in model.named_parameters() if p.requires_grad)
    with torch.no_grad():
        again = model.base(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(plain, again, atol=1e-6)


@pytest.fixture(scope="module")
def task_and_tokenizer(corpora):
    from discover.text import load_task, tokenizer
    return load_task("subjectivity", folder=corpora), tokenizer(folder=corpora)


def test_training_is_seeded_and_a_stored_adapter_reads_back_only_on_its_base(task_and_tokenizer, tmp_path):
    task, tok = task_and_tokenizer
    runs = [sa.train_super_adapter(tiny_base(vocab=tok.vocab_size), "a" * 64, task, tok, steps=6, threads=1,
                                   settings={"batch": 8}, log_every=0) for _ in range(2)]
    (model, card), (other, _) = runs
    first, second = model.adapter_state(), other.adapter_state()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert card["labels"] == ["objective", "subjective"] and set(card["dev_accuracy"]) == {"largest", "smallest"}
    folder = sa.save_super_adapter(tmp_path / "adapter", model, card)
    sub = SubNetwork((8, 4), (48, 32), (3, 2))
    texts = [e.text for e in task.test[:20]]
    want = sa.predict(model.use(sub), tok, texts)
    loaded, stored = sa.load_super_adapter(folder, tiny_base(vocab=tok.vocab_size), "a" * 64)
    assert np.array_equal(sa.predict(loaded.use(sub), tok, texts), want)
    with pytest.raises(DataError, match="trained on base weights aaaaaaaaaaaa, not these"):
        sa.load_super_adapter(folder, tiny_base(vocab=tok.vocab_size), "b" * 64)
    with open(folder / sa.WEIGHTS, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(DataError, match="sha256 differs"):
        sa.load_super_adapter(folder, tiny_base(vocab=tok.vocab_size), "a" * 64)


def test_sentences_are_padded_and_cut(task_and_tokenizer):
    _, tok = task_and_tokenizer
    ids, mask = sa.encode_sentences(tok, ["a short one", "word " * 200, ""], max_tokens=16)
    assert ids.shape == (3, 16) and mask[1].sum() == 16 and mask[2].sum() == 1 and mask[0].sum() < 16


def test_the_study_script_stores_each_sub_networks_accuracy_with_its_provenance(corpora, tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    from discover import values
    from discover.benchmarks.pruning.reference import reference_config, train_reference
    monkeypatch.setenv("ZC_DISCOVER_MODELS", str(tmp_path / "models"))
    config = {**reference_config("roformer-6", 4096), "hidden_size": 32, "embedding_size": 32,
              "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    train_reference("tiny-encoder", tmp_path / "models" / "tiny-encoder", config=config, steps=2, threads=1,
                    heldout_windows=4)
    script = _subnets_script()
    path = Path(script.__file__)
    args = ["--tasks", "subjectivity", "--encoder", "tiny-encoder", "--count", "4", "--steps", "2", "--threads", "1",
            "--attack-sentences", "3", "--max-queries", "20", "--jobs", "1",
            "-o", str(tmp_path / "out")]
    assert script.main(args) == 0
    stored = tmp_path / "out" / "subjectivity-tiny-encoder-targets.csv.gz"
    table = values.read_values([stored])
    meta = values.provenance(stored)
    assert meta["adapter"]["training"]["steps"] == 2 and meta["count"] == 4
    assert meta["encoder_sha256"] == meta["adapter"]["base_sha256"]
    assert len(table) == 4 * (2 + 2 * 5) and {"dev_accuracy", "bae_success_rate"} <= set(table.proxy)
    assert table[table.proxy.str.endswith("accuracy")].value.between(0, 1).all()
    assert table[table.proxy.str.endswith("queries")].value.between(1, 20).all()
    assert meta["request"]["attacks"] == ["deepwordbug", "bae"] and meta["request"]["max_queries"] == 20
    args[args.index("--jobs") + 1] = "2"
    assert script.main(args + ["--remeasure"]) == 0   # the stored super-adapter is kept; two processes, same figures
    again = values.read_values([stored])
    assert again.value.fillna(-1).tolist() == table.value.fillna(-1).tolist()
    assert values.provenance(stored)["adapter"]["weights_sha256"] == meta["adapter"]["weights_sha256"]
    # interrupted after three sub-networks: a new run measures only the fourth, and the table is the same
    from discover.robustness import targets
    request = targets.TargetRequest(str(tmp_path / "models" / "tiny-encoder"),
                                    str(tmp_path / "models" / "lonas-tiny-encoder-subjectivity"), "subjectivity",
                                    attack_sentences=3, max_queries=20)
    names = list(dict.fromkeys(table.arch_id))
    store = targets.target_store(request)
    store._path(names[-1]).unlink()
    measured = []
    real = targets.subnetwork_targets
    monkeypatch.setattr(targets, "subnetwork_targets", lambda req, name: measured.append(name) or real(req, name))
    args[args.index("--jobs") + 1] = "1"
    assert script.main(args) == 0 and measured == [names[-1]]
    assert values.read_values([stored]).value.fillna(-1).tolist() == table.value.fillna(-1).tolist()
    # the study reads them: features measured once and stored beside the targets, a table per task
    spec = importlib.util.spec_from_file_location("robustness_study", path.with_name("robustness_study.py"))
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    study_args = ["--tasks", "subjectivity", "--encoder", "tiny-encoder", "--no-search",
                  "--values", str(tmp_path / "out"), "--tables", str(tmp_path / "tables")]
    assert study.main(study_args) == 0
    assert (tmp_path / "out" / "subjectivity-tiny-encoder-features.csv.gz").is_file()
    written = (tmp_path / "tables" / "robustness-subjectivity.md").read_text()
    assert "bae_attacked_accuracy |" in written and "| zerolm |" in written and "| dev accuracy (measured) |" in written
    # the published data proxies, from one probe batch of train sentences, stored with why one has no value
    probes = values.read_values([tmp_path / "out" / "subjectivity-tiny-encoder-probes.csv.gz"])
    assert probes.arch_id.nunique() == 4 and {"synflow", "snip", "naswot", "jacob_cov"} <= set(probes.proxy)
    assert np.isfinite(probes[probes.proxy == "synflow"].value).all() and "| synflow |" in written
    assert probes[probes.proxy == "lpzero_synflow"].failure.str.contains("language-model head").all()
    assert "lpzero_synflow (this model has no language-model head)" in written
    assert values.provenance(tmp_path / "out" / "subjectivity-tiny-encoder-probes.csv.gz")["probe"]["split"] == "train"
    reproduced = (tmp_path / "tables" / "robustness-reproduction.md").read_text()
    assert "| subjectivity | " in reproduced and "|                24 |          24 |" in reproduced
    assert "TF-IDF logistic regression" in (tmp_path / "tables" / "robustness-targets.md").read_text()
    assert "bae on 3 sentences (s per sub-network)" in (tmp_path / "tables" / "robustness-cost.md").read_text()
    assert study.main(study_args) == 0   # the stored features are read back (digest-checked), same table
    again = (tmp_path / "tables" / "robustness-subjectivity.md").read_text()
    assert again.split("\n\n")[0] == written.split("\n\n")[0]
    # the stored space is a benchmark: listed, compared from its values alone, from Python and the CLI
    from scipy import stats

    from discover import compare_robustness
    from discover.cli import main
    from discover.errors import UnknownNameError
    from discover.robustness import compare
    out = tmp_path / "out"
    assert compare.stored_spaces(out) == ["lonas:tiny-encoder-subjectivity"]
    report = compare_robustness("lonas:tiny-encoder-subjectivity", ["params", "zerolm"], targets=["test_accuracy"],
                                root=out)
    assert report.proxy.tolist() == ["params", "zerolm", compare.MEASURED] and report.attrs["sub_networks"] == 4
    features = compare.read_features(compare.space_paths("tiny-encoder", "subjectivity", out)[1])
    test = table[table.proxy == "test_accuracy"].set_index("arch_id").value.loc[features.arch_id]
    dev = table[table.proxy == "dev_accuracy"].set_index("arch_id").value.loc[features.arch_id]
    measured = report.set_index("proxy").loc[compare.MEASURED]
    assert measured.spearman == pytest.approx(stats.spearmanr(dev, test).statistic, nan_ok=True)
    with pytest.raises(UnknownNameError, match="bae_attacked_accuracy"):
        compare_robustness("lonas:tiny-encoder-subjectivity", targets=["bae_attacked_acuracy"], root=out)
    synflow = compare_robustness("lonas:tiny-encoder-subjectivity", ["synflow"], targets=["test_accuracy"], root=out)
    scores = probes[probes.proxy == "synflow"].set_index("arch_id").value.loc[features.arch_id]
    assert synflow.set_index("proxy").spearman["synflow"] == pytest.approx(
        stats.spearmanr(scores, test).statistic, nan_ok=True)
    assert "synflow" in set(compare_robustness("lonas:tiny-encoder-subjectivity", root=out).proxy)
    with pytest.raises(ConfigError, match="lpzero_synflow has no value on any sub-network"):
        compare_robustness("lonas:tiny-encoder-subjectivity", ["lpzero_synflow"], root=out)
    (out / "subjectivity-tiny-encoder-probes.csv.gz").rename(tmp_path / "probes.csv.gz")
    with pytest.raises(ConfigError, match="synflow runs the model on data, and this robustness space has no stored"):
        compare_robustness("lonas:tiny-encoder-subjectivity", ["synflow"], root=out)
    with pytest.raises(UnknownNameError, match="robustness space"):
        compare_robustness("lonas:tiny-encoder-subjectivty", root=out)
    from discover.robustness import stored
    monkeypatch.setattr(stored, "values_root", lambda: out)
    assert main(["compare", "lonas:tiny-encoder-subjectivity", "--proxies", "params", "--targets", "test_accuracy",
                 "-o", str(tmp_path / "report")]) == 0
    assert len(pd.read_csv(tmp_path / "report" / "robustness.csv")) == 2


def test_the_stored_spaces_are_listed_from_their_provenance_without_torch_or_pandas(tmp_path):
    import json
    import subprocess
    import sys

    from discover.robustness.stored import stored_spaces
    for task in ("subjectivity", "sentence_polarity"):
        (tmp_path / f"{task}-enc-targets.json").write_text(json.dumps({"encoder": "enc", "request": {"task": task}}))
    (tmp_path / "subjectivity-enc-features.json").write_text("{}")
    (tmp_path / "damaged-enc-targets.json").write_text("{not json")
    # polarity has no features yet, the damaged file is left out: one space
    assert stored_spaces(tmp_path) == ["lonas:enc-subjectivity"]
    code = ("import sys; from discover.robustness.stored import stored_spaces; stored_spaces(); "
            "print(sorted({'torch', 'pandas'} & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_a_materialized_sub_network_is_smaller_and_computes_the_same():
    from discover.robustness.elastic import materialize
    model = ElasticEncoder(tiny_base(), 2)
    _randomise_adapters(model)
    sub = SubNetwork((4, 16), (32, 64), (2, 3))
    model.use(sub).eval()
    ids, mask = batch()
    plain = materialize(model, sub)
    hidden = plain(input_ids=ids, attention_mask=mask).last_hidden_state
    pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
    assert torch.allclose(model.head(pooled), model(ids, mask), atol=1e-5)
    layer = plain.encoder.layer[0]
    assert layer.attention.self.query.weight.shape == (16, 32) and layer.intermediate.dense.weight.shape == (32, 32)
    assert not any("lora" in name for name, _ in plain.named_parameters())
    full = sum(p.numel() for p in tiny_base().parameters())
    assert sum(p.numel() for p in plain.parameters()) < full


def test_a_sub_network_classifier_predicts_what_the_elastic_model_does(task_and_tokenizer):
    from discover.robustness.elastic import SubNetworkClassifier
    _, tok = task_and_tokenizer
    model = ElasticEncoder(tiny_base(vocab=tok.vocab_size), 2)
    _randomise_adapters(model)
    sub = SubNetwork((8, 4), (64, 32), (3, 2))
    texts = ["a film of rare wit", "dull", "", "the plot never quite holds together , but the cast is fun"]
    elastic = sa.predict(model.use(sub), tok, texts)
    plain = sa.predict(SubNetworkClassifier(model, sub), tok, texts)
    assert plain.shape == (4, 2) and np.allclose(plain, elastic, atol=1e-5)
    # batched by length, the rows still come back in the texts' order
    assert np.allclose(sa.predict(model, tok, texts[::-1]), elastic[::-1], atol=1e-6)


def test_sub_network_features_are_those_of_its_own_weights_and_join_the_targets():
    import pandas as pd
    from discover.proxies.evaluate import proxy_values
    from discover.proxies.registry import ProxyContext
    from discover.robustness.space import features_table, space_table
    model = ElasticEncoder(tiny_base(), 2)
    _randomise_adapters(model)
    subs = [largest(model.space, model.config), smallest(model.space, model.config),
            SubNetwork((16, 4), (64, 32), (4, 2))]
    features = features_table(model, subs)
    assert list(features.arch_id) == [s.name for s in subs]
    # a sub-network that keeps fewer heads and channels has fewer attention and FFN parameters
    assert features.params_attention.iloc[0] > features.params_attention.iloc[2] > features.params_attention.iloc[1]
    assert features.params_ffn.iloc[0] > features.params_ffn.iloc[2] > features.params_ffn.iloc[1]
    targets = pd.DataFrame([{"arch_id": s.name, "proxy": p, "value": v}
                            for s, (a, b) in zip(subs, [(0.9, 0.4), (0.6, 0.1), (0.8, 0.3)])
                            for p, v in (("test_accuracy", a), ("bae_attacked_accuracy", b))])
    table = space_table(features, targets, "bae_attacked_accuracy")
    assert table.target.tolist() == [0.4, 0.1, 0.3] and table["target:test_accuracy"].tolist() == [0.9, 0.6, 0.8]
    context = ProxyContext(benchmark=None, table=table, builder="trained", seed=0)
    assert np.isfinite(proxy_values(context, "zerolm").scores).all()
    with pytest.raises(KeyError, match="the stored ones: bae_attacked_accuracy, test_accuracy"):
        space_table(features, targets, "dev_accuracy")


def test_data_proxies_read_train_sentences_through_the_sub_networks_own_classifier(task_and_tokenizer):
    from discover.robustness import probes
    from discover.robustness.elastic import SubNetworkClassifier
    task, tok = task_and_tokenizer
    from discover.text import PAD_ID
    batch = probes.probe_batch(task, tok, count=6, max_tokens=16)
    assert batch.ids.shape == (6, 16) and torch.equal(batch.ids,
                                                             probes.probe_batch(task, tok, 6, 16).ids)
    assert not torch.equal(batch.ids, probes.probe_batch(task, tok, 6, 16, seed=1).ids)
    # every row is a train sentence with its label: never a dev or test one, which judge the sub-networks
    encoded, _ = sa.encode_sentences(tok, [e.text for e in task.train], 16)
    train = {tuple(row.tolist()): e.label for row, e in zip(encoded, task.train)}
    assert [train.get(tuple(row.tolist())) for row in batch.ids] == batch.labels.tolist()
    model = ElasticEncoder(tiny_base(vocab=tok.vocab_size), 2)
    _randomise_adapters(model)
    sub = SubNetwork((8, 4), (64, 32), (3, 2))
    probed = probes.probed_classifier(model, sub)
    assert [layer.attention.zc_heads for layer in probed.encoder.encoder.layer] == [3, 2]
    # the probe's task loss is the cross-entropy of what the sub-network's own classifier predicts
    mask = (batch.ids != PAD_ID).long()
    logits = SubNetworkClassifier(model, sub)(batch.ids, mask)
    loss = probed(batch.ids, labels=batch.labels).loss
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits, batch.labels), atol=1e-6)
    names = ["synflow", "snip", "naswot", "head_importance"]
    first = probes.probe_values(model, [sub, largest(model.space, model.config)], batch, names)
    again = probes.probe_values(model, [sub, largest(model.space, model.config)], batch, names)
    assert first.value.fillna(-1).tolist() == again.value.fillna(-1).tolist()   # seeded, bit for bit
    assert np.isfinite(first[first.proxy != "head_importance"].value).all()
    assert first[first.proxy == "head_importance"].failure.notna().all()   # why it has no value, kept


def _subnets_script():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "experiments" / "robustness_subnets.py"
    spec = importlib.util.spec_from_file_location("robustness_subnets", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.parametrize("extra, message", [
    (["--attacks", "textfooler"], "unknown attack 'textfooler'"),
    (["--max-queries", "0"], "query budget must be a whole number > 0, not 0"),
    (["--attack-sentences", "-1"], "attacked sentences must be a whole number >= 0"),
    (["--encoder", "no-such-encoder"], "no-such-encoder"),
    (["--tasks", "subjectivity", "--altered"], "sha256 differs")])
def test_a_bad_robustness_request_is_one_line_exit_2_and_writes_nothing(corpora, tmp_path, monkeypatch, capsys,
                                                                        extra, message):
    import shutil
    monkeypatch.setenv("ZC_DISCOVER_MODELS", str(tmp_path / "models"))
    if "--altered" in extra:   # a corpus file changed after it was pinned
        extra = extra[:-1]
        altered = tmp_path / "corpora"
        shutil.copytree(corpora, altered)
        with open(altered / "subjectivity.zip", "ab") as handle:
            handle.write(b"x")
        monkeypatch.setenv("ZC_DISCOVER_CORPORA", str(altered))
    out = tmp_path / "out"
    assert _subnets_script().main([*extra, "--count", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists() and not (tmp_path / "models").exists()
