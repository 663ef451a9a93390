"""The LTS Transformer-XL family: parameter counts of every architecture, the model itself, and its folders."""
import pytest
import torch
import yaml

from discover import DataError, build_model, load_benchmark
from discover.benchmarks.lts_txl import TransformerXLModel, param_parts, rel_shift
from primitives.decompose import decompose
from tests.test_loaders import lts_folder

TXL = {"n_layer": 2, "d_model": 32, "d_embed": 64, "n_head": [2, 4], "d_inner": [48, 40], "d_head": -1,
       "n_token": 600, "cutoffs": [100, 300, 600], "div_val": 2, "tgt_len": 16, "mem_len": 16, "attn_type": 0,
       "tie_projs": [False, True, True], "tie_weight": True, "pre_lnorm": False}


def summary_parts(model) -> dict[str, int]:
    """The parts of LTS's params_summary.yaml from a built model: Attn is the attention matrices and their
    LayerNorm (not r_w_bias / r_r_bias), FFN the two dense layers, nonembedding everything in the layers."""
    tensors = decompose(model)
    count = lambda keep: sum(t.numel for t in tensors if keep(t))  # noqa: E731
    return {"AdaEmb": count(lambda t: t.role == "embedding"),
            "Attn": count(lambda t: (t.role == "attention" and t.kind != "bias") or ".dec_attn.layer_norm." in t.name),
            "FFN": count(lambda t: t.role == "ffn"),
            "nonembedding": count(lambda t: t.role in ("attention", "ffn", "norm")),
            "total": count(lambda t: True)}


@pytest.fixture(scope="module", params=["lts-txl-wt103", "lts-txl-wt103-homogeneous"])
def txl(request, data_dir):
    return load_benchmark(request.param, data_dir)


def test_every_architecture_matches_params_summary(txl):
    wrong = []
    for arch in txl.archs:
        with torch.device("meta"):
            model = TransformerXLModel(arch.config)
        built = summary_parts(model)
        closed = param_parts(arch.config)
        for part, value in built.items():
            if value != arch.metrics[f"params_{part}"] or closed[part] != value:
                wrong.append((arch.id, part, value, closed[part], arch.metrics[f"params_{part}"]))
    assert wrong == [] and len(txl) in (200, 98)


def test_homogeneous_folder_skips_the_job_without_perplexity(data_dir, caplog):
    bench = load_benchmark("lts-txl-wt103-homogeneous", data_dir)
    assert "config_6_j4" not in bench.by_id and len(bench) == 98
    assert "config_6_j4" in caplog.text


def test_built_model_runs_and_its_loss_is_a_distribution(data_dir):
    bench = load_benchmark("lts-txl-wt103", data_dir)
    model = build_model(bench, "config_0_j0")
    assert sum(p.numel() for p in model.parameters()) == bench.arch("config_0_j0").metrics["params_total"]
    ids = torch.randint(0, 267735, (2, 12), generator=torch.Generator().manual_seed(0))
    loss = model.lm_loss(ids)
    assert torch.isfinite(loss) and loss.item() > 0


def test_relative_shift_aligns_distances():
    # scores[b, h, i, j] = distance index j (position klen-1-j); after the shift, entry (i, j) for j <= i must hold
    # relative distance i - j, i.e. position index klen-1-(i-j).
    keys = 5
    scores = torch.arange(keys, dtype=torch.float64).expand(1, 1, keys, keys).clone()
    shifted = rel_shift(scores)
    for i in range(keys):
        for j in range(i + 1):
            assert shifted[0, 0, i, j] == keys - 1 - (i - j)


def test_attention_is_causal(tmp_path):
    bench = load_benchmark(f"lts-txl:{lts_folder(tmp_path, [TXL])}")
    model = build_model(bench, "config_0_j0").double()
    ids = torch.randint(0, 600, (1, 10), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 600
    a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_initialised_like_archai():
    config = {**TXL, "cutoffs": [100, 300, 600], "d_head": [16, 8], "weight_init_std": 0.02, "proj_init_std": 0.01}
    from discover.benchmarks.lts_txl import build_txl, normalise_config
    model = build_txl(normalise_config(config, "test"), seed=0)
    params = dict(model.named_parameters())
    ln = params["layers.0.dec_attn.layer_norm.weight"]
    assert 0.9 < float(ln.mean()) < 1.1 and float(ln.std()) > 0   # N(1, 0.02)
    assert float(params["layers.1.dec_attn.r_w_bias"].std()) > 0     # N(0, 0.02), not zero
    assert float(params["layers.0.pos_ff.fc1.bias"].abs().max()) == 0
    assert float(params["word_emb.emb_projs.0"].std()) < 0.015        # N(0, 0.01)


def test_lts_folder_family_detected_from_params_summary(tmp_path, data_dir):
    folder = tmp_path / "my_space"
    lts_folder(folder, [TXL])
    counts = param_parts(load_benchmark(f"lts-txl:{folder}").archs[0].config)
    (folder / "params_summary.yaml").write_text(yaml.safe_dump({"config_0_j0": counts}))
    assert load_benchmark(f"lts:{folder}").family.name == "txl"
    real = load_benchmark(f"lts:{data_dir / 'lts' / 'random_TransXL_wt103'}")
    assert real.family.name == "txl" and len(real) == 200


def test_a_count_that_disagrees_with_params_summary_names_the_architecture_and_part(tmp_path):
    folder = lts_folder(tmp_path, [TXL])
    counts = param_parts(load_benchmark(f"lts-txl:{folder}").archs[0].config)
    (folder / "params_summary.yaml").write_text(yaml.safe_dump({"config_0_j0": {**counts, "FFN": counts["FFN"] + 1}}))
    with pytest.raises(DataError, match="config_0_j0.*FFN"):
        load_benchmark(f"lts-txl:{folder}")


@pytest.mark.parametrize("change, message", [
    ({"attn_type": 2}, "attn_type 2 is not supported"),
    ({"d_head": [8]}, "d_head has 1 entries"),
    ({"n_head": [3, 4]}, "does not divide d_model"),
    ({"cutoffs": "many"}, "field cutoffs: Input should be a valid list"),
])
def test_malformed_configs_are_one_clear_line(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        load_benchmark(f"lts-txl:{lts_folder(tmp_path, [{**TXL, **change}])}")


def test_an_lm1b_style_folder_loads_and_builds(tmp_path):
    # LM1B's vocabulary is larger (793470 words) with other cutoffs and tgt_len 32: the same code must follow.
    config = {**TXL, "n_token": 2000, "cutoffs": [500, 900, 1500, 2000], "div_val": 2, "tgt_len": 8, "d_embed": -1}
    bench = load_benchmark(f"lts-txl:{lts_folder(tmp_path, [config])}")
    model = build_model(bench, "config_0_j0")
    assert bench.arch("config_0_j0").config["cutoffs"] == [500, 900, 1500, 2000]
    assert torch.isfinite(model.lm_loss(torch.randint(0, 2000, (2, 9))))
