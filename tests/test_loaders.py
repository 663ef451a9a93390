"""Malformed benchmark files give errors that name the problem and where it is."""
import json

import pytest
import yaml

from discover import DataError, load_benchmark
from discover.benchmarks.flexibert.data import load_flexibert
from discover.benchmarks.lts_gpt2 import load as load_lts

LAYER = {"operation_type": "SA", "operation_parameter": "SDP", "num_operation_heads": 2,
         "feed_forward_dimension": 512, "num_feed_forward": 1}


def record(i=0, **layer):
    return {"id": i, "scores": {"glue": 70.0},
            "hparams": {"model_hparam_overrides": {"hidden_size": 128,
                                                   "nas_config": {"encoder_layers": [{**LAYER, **layer}]}}}}


def write(tmp_path, payload):
    path = tmp_path / "BERT_benchmark.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_valid_record_parses(tmp_path):
    (arch,) = load_flexibert(write(tmp_path, [record()]))
    assert arch.id == "0" and arch.config["hidden_size"] == 128 and arch.config["layers"][0]["num_feed_forward"] == 1


def test_malformed_json(tmp_path):
    with pytest.raises(DataError, match=r"not valid JSON .*line 1.*zc-discover fetch"):
        load_flexibert(write(tmp_path, '[{"id": 0,'))


def test_missing_field(tmp_path):
    bad = record()
    del bad["scores"]
    with pytest.raises(DataError, match=r"record #0 \(id 0\): missing field 'scores'"):
        load_flexibert(write(tmp_path, [bad]))


def test_missing_layer_field(tmp_path):
    bad = record()
    del bad["hparams"]["model_hparam_overrides"]["nas_config"]["encoder_layers"][0]["num_feed_forward"]
    with pytest.raises(DataError, match="layer 0: missing field.*num_feed_forward"):
        load_flexibert(write(tmp_path, [bad]))


@pytest.mark.parametrize("layer, message", [
    ({"operation_type": "XX"}, "unknown operation_type 'XX'"),
    ({"operation_parameter": "DFT"}, "'DFT' is not valid for SA"),
    ({"operation_type": "DSC", "operation_parameter": "big"}, "kernel size"),
    ({"num_operation_heads": 3}, "does not divide hidden_size"),
    ({"num_feed_forward": 0}, "num_feed_forward must be a positive integer"),
])
def test_bad_layer_values(tmp_path, layer, message):
    with pytest.raises(DataError, match=message):
        load_flexibert(write(tmp_path, [record(**layer)]))


def test_duplicate_ids(tmp_path):
    with pytest.raises(DataError, match="appears more than once"):
        load_flexibert(write(tmp_path, [record(1), record(1)]))


GPT2 = {"n_layer": 2, "d_model": 32, "d_embed": -1, "n_head": [2, 4, 8], "d_inner": [64, 48, 16], "n_token": 500,
        "cutoffs": [100, 200, 5000, 500], "div_val": 2, "tgt_len": 32, "tie_projs": [False, True, False, True],
        "tie_weight": True}


def lts_folder(tmp_path, configs, ppl=None):
    for i, config in enumerate(configs):
        job = tmp_path / f"config_{i}" / "j0"
        job.mkdir(parents=True)
        (job / "model_config.yaml").write_text(yaml.safe_dump(config))
    ppl = ppl if ppl is not None else {f"config_{i}_j0": {"valid_ppl": 30.0 + i} for i in range(len(configs))}
    (tmp_path / "ppl_summary.yaml").write_text(yaml.safe_dump(ppl))
    return tmp_path


def test_lts_d_embed_minus_one_means_d_model(tmp_path):
    (arch,) = load_lts(lts_folder(tmp_path, [GPT2]))
    assert arch.config["d_embed"] == 32
    assert arch.config["n_head"] == [2, 4] and arch.config["d_inner"] == [64, 48]
    assert arch.config["cutoffs"] == [100, 200, 500]  # cutoffs past the vocabulary dropped, n_token appended


def test_lts_malformed_yaml(tmp_path):
    folder = lts_folder(tmp_path, [GPT2])
    (folder / "config_0" / "j0" / "model_config.yaml").write_text("n_layer: [1, 2\n")
    with pytest.raises(DataError, match="not valid YAML"):
        load_lts(folder)


def test_lts_missing_field(tmp_path):
    config = {k: v for k, v in GPT2.items() if k != "d_model"}
    with pytest.raises(DataError, match="missing field d_model"):
        load_lts(lts_folder(tmp_path, [config]))


def test_lts_job_without_perplexity_is_skipped_with_a_warning_that_names_it(tmp_path, caplog):
    folder = lts_folder(tmp_path, [GPT2, GPT2], ppl={"config_0_j0": {"valid_ppl": 30.0}})
    assert [a.id for a in load_lts(folder)] == ["config_0_j0"]
    assert "config_1_j0" in caplog.text and "skipped 1" in caplog.text


def test_lts_folder_without_any_perplexity(tmp_path):
    with pytest.raises(DataError, match="none of its 1 architectures has a valid_ppl"):
        load_lts(lts_folder(tmp_path, [GPT2], ppl={"config_9_j9": {"valid_ppl": 1.0}}))


def test_lts_folder_without_ppl_summary_names_the_file(tmp_path):
    folder = lts_folder(tmp_path, [GPT2])
    (folder / "ppl_summary.yaml").unlink()
    with pytest.raises(DataError, match="ppl_summary.yaml is missing"):
        load_benchmark(f"lts-gpt2:{folder}")


def test_lts_short_per_layer_list(tmp_path):
    with pytest.raises(DataError, match="n_head has 1 entries but n_layer is 2"):
        load_lts(lts_folder(tmp_path, [{**GPT2, "n_head": [2]}]))


def test_lts_folder_via_name(tmp_path):
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path, [GPT2, {**GPT2, 'div_val': 1}])}")
    assert [a.id for a in bench.archs] == ["config_0_j0", "config_1_j0"] and bench.family.name == "gpt2"


def test_lts_folder_family_from_its_name(tmp_path):
    folder = tmp_path / "random_GPT2_lm1b"
    folder.mkdir()
    assert load_benchmark(f"lts:{lts_folder(folder, [GPT2])}").family.name == "gpt2"


def test_lts_folder_of_unknown_family_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="lts-gpt2:.*lts-txl:"):
        load_benchmark(f"lts:{lts_folder(tmp_path, [GPT2])}")
