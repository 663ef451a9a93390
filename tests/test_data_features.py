"""Discovery beyond size: the data-dependent features are measured as defined, a search over them reads the stored
values and probes nothing, a formula that reads them probes only the architectures it scores, and the size-controlled
metrics and fitnesses mean what they say."""
import math

import numpy as np
import pytest
import torch

from discover import ProxySearch, build_model, load_benchmark, probe_values, score_model, score_proxy
from discover.metrics import partial_spearman, rank_quality
from discover.probing.activations import activation_feature_names, aggregate_layers
from discover.probing.signals import per_example_gradient_noise, token_cosine, token_gram_eigenvalues
from discover.proxies import probe_table
from discover.proxies.probe_table import stored_path
from discover.values import ENV_VALUES
from discover.search.loop import batch_correlation
from tests.test_loaders import GPT2, lts_folder


@pytest.fixture
def tiny(tmp_path):
    configs = [{**GPT2, "d_inner": [32 + 8 * i, 48, 16], "n_layer": 1 + i % 2} for i in range(12)]
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', configs)}")


def test_per_example_gradient_noise_is_the_spread_of_per_example_gradients():
    generator = torch.Generator().manual_seed(0)
    for batch, seq, width_in, width_out in ((4, 5, 3, 7), (3, 50, 4, 6), (2, 3, 40, 50)):   # both routes
        x = torch.randn(batch, seq, width_in, generator=generator)
        d = torch.randn(batch, seq, width_out, generator=generator)
        per_example = torch.einsum("bti,bto->bio", x.double(), d.double())
        mean = per_example.mean(0)
        signal, noise = per_example_gradient_noise(x, d)
        assert signal == pytest.approx(float(mean.pow(2).sum()), rel=1e-5)
        assert noise == pytest.approx(float((per_example - mean).pow(2).sum((1, 2)).mean()), rel=1e-5)


def test_token_statistics_see_rank_collapse():
    collapsed = torch.ones(2, 6, 4)
    spread = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(0))
    assert token_cosine(collapsed) == pytest.approx(1.0)
    assert abs(token_cosine(spread)) < 0.5
    eigenvalues = token_gram_eigenvalues(collapsed)
    assert (eigenvalues[:, 1:] < 1e-9).all() and (eigenvalues[:, 0] > 0).all()


def test_depth_aggregations():
    values = aggregate_layers({2: 6.0, 0: 2.0, 1: 3.0})
    assert (values["first"], values["last"], values["ratio"], values["sum"]) == (2.0, 6.0, 3.0, 11.0)
    assert aggregate_layers({0: 0.0, 1: 5.0})["ratio"] == 0.0
    assert aggregate_layers({})["mean"] == 0.0


def test_every_feature_column_is_finite_on_real_models(tiny):
    row = probe_table.probe_arch(tiny, tiny.archs[0].id, [], None, 0, with_features=True)
    features = row["activations"]
    assert set(features) == set(activation_feature_names())
    assert all(math.isfinite(v) for v in features.values())
    assert features["sum_ffn_act_pca99"] > 0 and features["mean_attention_token_rank"] > 1
    assert 0 < features["mean_attention_attn_entropy"] <= 1 and features["mean_ffn_grad_snr"] > 0


def test_a_search_over_stored_data_features_probes_nothing(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VALUES, str(tmp_path / "values"))
    probe_values(tiny, stored_path(tiny.name, "as-trained"), ["snip"], n_jobs=1)
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(probe_table, "probe_arch", lambda *a: pytest.fail("probed although the values are stored"))
    search = ProxySearch(population=30, generations=2, folds=2, jobs=1, with_activations=True,
                         output=tmp_path / "run").fit(tiny)
    assert search.metrics_["heldout"][tiny.name]["kendall"] is not None
    assert search.run_.config["arguments"]["with_activations"] is True


def test_a_formula_of_data_features_probes_only_the_scored_architectures(tiny, monkeypatch):
    probed = []
    original = probe_table.probe_arch

    def spy(benchmark, arch_id, names, *args):
        probed.append(arch_id)
        return original(benchmark, arch_id, names, *args)
    monkeypatch.setattr(probe_table, "probe_arch", spy)
    ids = [a.id for a in tiny.archs[:5]]
    result = score_proxy(tiny, formula="mean_ffn_token_rank / ratio_ffn_grad_norm", ids=ids, n_jobs=1)
    assert result["n"] == 5 and sorted(probed) == sorted(ids)


def test_score_model_reads_data_features_from_one_probe(tiny):
    model = build_model(tiny, tiny.archs[0])
    value = score_model(model, formula="sum_ffn_act_pca99 + first_attention_jac_norm")
    assert math.isfinite(value) and value > 0


def test_size_controlled_metrics():
    rng = np.random.default_rng(0)
    size = rng.random(60)
    target = size + 0.3 * rng.random(60)
    by_size = rank_quality(size, target, size, size)
    assert by_size.partial_spearman == 0.0 and by_size.kendall_size_matched == pytest.approx(
        by_size.kendall_iso_params)
    knows_more = rank_quality(target + 0.01 * rng.random(60), target, size, size)
    assert knows_more.partial_spearman > 0.9 and knows_more.kendall_size_matched > 0.8
    assert math.isnan(partial_spearman(rng.random(60), size, size))   # the target is size: nothing left


@pytest.mark.parametrize("kind", ["iso", "partial"])
def test_size_controlled_fitness_agrees_with_the_metrics(kind):
    rng = np.random.default_rng(1)
    size, target = rng.random(40), rng.random(40)
    values = rng.random((3, 40))
    batch = batch_correlation(values, target, kind, size=size)
    for row, score in zip(values, batch):
        quality = rank_quality(row, target, size, size)
        expected = quality.kendall_size_matched if kind == "iso" else quality.partial_spearman
        assert score == pytest.approx(expected)


def test_a_search_can_ask_for_what_a_count_cannot_give(tmp_path):
    from tests.test_search import synthetic
    from discover.search import search_tables
    from discover.search.loop import SearchConfig
    table = synthetic()
    table["params_nonembedding"] = table["n_params"]
    run = search_tables({"toy": table}, tmp_path / "run", SearchConfig(population=30, generations=3, fitness="iso"),
                        folds=2, progress=False)
    held = run.metrics["heldout"]["toy"]
    assert held["kendall_size_matched"] is not None and "partial_spearman" in held


def test_compare_charges_a_data_formula_for_its_probe(tiny, tmp_path):
    from discover import compare
    from discover.api import formula_columns
    from discover.formula import Formula
    from discover.runs import Run

    def run(name, text):
        return Run(path=tmp_path / name, formula=Formula.from_string(text, formula_columns()), metrics={},
                   equations=None, config={})
    report = compare(tiny, ["params"], n_jobs=1, runs=[run("weights", "params_attention"),
                                                      run("data", "sum_ffn_act_pca99 * params_attention")])
    rows = report.set_index("proxy")
    weights, data = rows.loc["discovered:weights"], rows.loc["discovered:data"]
    assert not weights.needs_data and data.needs_data
    # the probe pass that computes the data features is part of what the data formula costs
    assert data.seconds_per_arch > weights.seconds_per_arch > 0
