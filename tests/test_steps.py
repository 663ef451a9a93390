"""Few-step training signals (issue #28): settings checked, values deterministic, cached, stored and read back only
for the settings that made them; the search reads them with --with-steps."""
import numpy as np
import pandas as pd
import pytest
import torch

from discover import load_benchmark
from discover.cli import main
from discover.errors import ConfigError, DataError
from discover.probing import step_values, steps
from discover.probing.steps import StepSettings, step_columns, train_steps
from tests.test_faults import one_clean_line
from tests.test_loaders import GPT2, lts_folder

SHORT = StepSettings(steps=(1, 2, 4), batch=4, seq=16, heldout_windows=2)


@pytest.fixture
def synthetic_text(monkeypatch):
    """A stream of token ids in the BPE range (the real corpus is read by the slow tests)."""
    rng = np.random.default_rng(0)
    train, heldout = rng.integers(3, 400, 20_000), rng.integers(3, 400, 2_000)
    monkeypatch.setattr(steps, "token_streams", lambda vocab: (train, heldout, "synthetic"))

    def describe(self):   # the real one names the corpus's and tokenizer's digests
        return {"steps": list(self.steps), "batch": self.batch, "seq": self.seq, "lr": self.lr, "seed": self.seed,
                "heldout_windows": self.heldout_windows, "corpus": "synthetic", "version": steps.STEPS_VERSION,
                **{k: True for k in ("per_layer", "data_after") if getattr(self, k)}}
    monkeypatch.setattr(StepSettings, "describe", describe)


@pytest.fixture
def tiny(tmp_path):
    configs = [GPT2, {**GPT2, "n_layer": 1}, {**GPT2, "d_inner": [20, 20]}, {**GPT2, "d_model": 16, "n_head": [2, 2]}]
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', configs)}")


def test_default_provenance_does_not_name_the_optional_columns(corpora):
    """Stored values made before per_layer and data_after existed answer the default request unchanged."""
    described = StepSettings().describe()
    assert "per_layer" not in described and "data_after" not in described
    assert StepSettings(per_layer=True).describe()["per_layer"] is True


@pytest.mark.parametrize("settings, message", [
    (StepSettings(steps=(0, 4)), "from 1 to 10,000"), (StepSettings(steps=(4, 20_000)), "from 1 to 10,000"),
    (StepSettings(steps=(4, 1)), "distinct and increasing"), (StepSettings(steps=(1.5,)), "whole numbers"),
    (StepSettings(batch=3), "even number"), (StepSettings(lr=0), "lr must be"), (StepSettings(steps=()), "whole")])
def test_bad_settings_are_one_clear_error(settings, message):
    with pytest.raises(ConfigError, match=message):
        settings.validate()


@pytest.mark.parametrize("k", ["0", "-3", "20000", "x"])
def test_bad_step_counts_on_the_command_line_are_one_line(capsys, tmp_path, k):
    assert "--with-steps" in one_clean_line(capsys, ["search", "nas-bench-bert", "-o", str(tmp_path / "r"),
                                                     "--with-steps", k])


def test_the_same_settings_give_the_same_values_and_every_column(tiny, synthetic_text):
    from discover import build_model
    arch = tiny.archs[0]
    first, seconds = train_steps(build_model(tiny, arch), tiny.family, arch.config, SHORT)
    again, _ = train_steps(build_model(tiny, arch), tiny.family, arch.config, SHORT)
    assert first == again and set(first) == set(step_columns(SHORT.steps)) and list(seconds) == [1, 2, 4]
    assert all(np.isfinite(first[f"steps{k}_heldout_loss"]) for k in (1, 2, 4))
    assert first["steps4_attention_weight_change"] > first["steps1_attention_weight_change"]
    assert 0 < first["steps4_attention_weight_change"] and first["steps4_attention_grad_snr"] > 0
    assert np.isnan(first["steps1_loss_slope"]) and np.isfinite(first["steps4_loss_slope"])


def test_per_layer_and_data_columns_after_the_steps(tiny, synthetic_text):
    """Asked for, the gradients through depth and the data probe's statistics of the trained model are recorded
    too; asking for them changes neither the default columns' values nor the default settings' provenance."""
    from discover import build_model
    from discover.probing.activations import activation_feature_names
    arch = tiny.archs[0]
    short = StepSettings(steps=(1, 2), batch=4, seq=16, heldout_windows=2)
    plain, _ = train_steps(build_model(tiny, arch), tiny.family, arch.config, short)
    full_settings = StepSettings(steps=(1, 2), batch=4, seq=16, heldout_windows=2, per_layer=True, data_after=True)
    full, _ = train_steps(build_model(tiny, arch), tiny.family, arch.config, full_settings)
    assert set(full) == set(step_columns((1, 2), per_layer=True, data_after=True))
    assert {k: full[k] for k in plain} == plain   # the probe between steps changes nothing of the training
    assert full["steps2_attention_grad_norm_first"] > 0 and np.isfinite(full["steps2_attention_grad_snr_ratio"])
    probe = f"steps2_{activation_feature_names()[0]}"
    assert probe in full and full == train_steps(build_model(tiny, arch), tiny.family, arch.config,
                                                 full_settings)[0]
    assert steps.settings_for_columns(["steps4_ffn_grad_snr_last"]) == {"per_layer": True, "data_after": False}
    assert steps.settings_for_columns([probe]) == {"per_layer": False, "data_after": True}
    with pytest.raises(ConfigError, match="per_layer must be True or False"):
        StepSettings(per_layer=1).validate()
    richer, plain_request = full_settings.describe(), short.describe()
    assert step_values.request_difference({"steps": richer}, {"steps": plain_request}) is None
    assert "per_layer" in step_values.request_difference({"steps": plain_request}, {"steps": richer})


def test_a_table_is_cached_and_read_back_without_training(tiny, synthetic_text, monkeypatch, tmp_path):
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    table = step_values.step_table(tiny, settings=SHORT, n_jobs=1, use_stored=False)
    monkeypatch.setattr(step_values, "step_arch", lambda *a: pytest.fail("trained again"))
    pd.testing.assert_frame_equal(step_values.step_table(tiny, settings=SHORT, n_jobs=1, use_stored=False), table)


def test_stored_values_answer_their_own_settings_only(tiny, synthetic_text, monkeypatch, tmp_path):
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZC_DISCOVER_VALUES", str(tmp_path / "values"))
    table = step_values.step_table(tiny, settings=SHORT, n_jobs=1, use_cache=False)
    path = step_values.stored_path(tiny.name, "as-trained")
    step_values.write_step_values(tiny, table, path, "as-trained", 0, SHORT)
    monkeypatch.setattr(step_values, "step_arch", lambda *a: pytest.fail("trained, not read"))
    back = step_values.step_table(tiny, settings=StepSettings(steps=(2,), batch=4, seq=16, heldout_windows=2),
                                  use_cache=False)
    np.testing.assert_array_equal(back["steps2_heldout_loss"], table["steps2_heldout_loss"])
    from discover.api import add_steps
    from discover import featurize
    features = featurize(tiny, n_jobs=1)
    with pytest.raises(DataError, match="do not answer --with-steps 8: its step settings differ in batch"):
        add_steps(tiny, features, 8)


def test_a_window_longer_than_the_model_reads_is_one_clear_error(tiny, synthetic_text):
    from discover import build_model
    arch = tiny.archs[0]   # tgt_len 32: the default 64-token windows do not fit
    with pytest.raises(ConfigError, match=r"windows of 65 tokens, but this architecture reads at most 33.*seq=32"):
        train_steps(build_model(tiny, arch), tiny.family, arch.config, StepSettings(steps=(1,)))
    with pytest.raises(ConfigError, match="reads at most 33"):   # raised, not kept in the cache as a failed run
        step_values.step_table(tiny, settings=StepSettings(steps=(1,)), n_jobs=1, use_cache=False, use_stored=False)


def test_a_formula_reading_step_signals_is_scored_on_them(synthetic_text, monkeypatch, tmp_path):
    from discover.api import score_proxy
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZC_DISCOVER_VALUES", str(tmp_path / "values"))
    configs = [{**GPT2, "tgt_len": 80}, {**GPT2, "tgt_len": 80, "n_layer": 1}, {**GPT2, "tgt_len": 80, "d_model": 16}]
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', configs)}")
    result = score_proxy(bench, formula="-steps1_heldout_loss", n_jobs=1)
    assert result["n"] == 3 and np.isfinite(result["kendall"])
    with pytest.raises(ConfigError, match=r"after \[1, 4\] steps; one step count a formula"):
        score_proxy(bench, formula="steps1_heldout_loss + steps4_heldout_loss", n_jobs=1)


def test_stratified_subsets_spread_over_size_and_are_seeded():
    sizes = pd.Series(np.arange(100.0), index=[f"a{i}" for i in range(100)])
    chosen = step_values.stratified_subset(sizes, 10, seed=3)
    assert len(chosen) == 10 and chosen == step_values.stratified_subset(sizes, 10, seed=3)
    assert sorted(int(c[1:]) // 10 for c in chosen) == list(range(10))   # one per tenth of the sizes
    assert chosen != step_values.stratified_subset(sizes, 10, seed=4)


@pytest.mark.slow
def test_real_text_values_are_identical_for_any_number_of_workers(tiny, corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    one = step_values.step_table(tiny, settings=SHORT, n_jobs=1, use_cache=False, use_stored=False)
    two = step_values.step_table(tiny, settings=SHORT, n_jobs=2, use_cache=False, use_stored=False)
    pd.testing.assert_frame_equal(one.drop(columns=[c for c in one if c.endswith("_seconds")]),
                                  two.drop(columns=[c for c in two if c.endswith("_seconds")]))
    assert one["error"].isna().all()


def test_a_search_with_step_details_reads_the_gradient_profile_and_the_data_after_the_steps(synthetic_text,
                                                                                              monkeypatch, tmp_path):
    """--step-details adds the per-layer gradients and the data statistics after the steps to what a search reads,
    records it in the run, and a formula of that run is scored on those columns again."""
    from discover import ProxySearch
    from discover.probing.activations import activation_feature_names
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZC_DISCOVER_VALUES", str(tmp_path / "values"))
    configs = [{**GPT2, "tgt_len": 80, "n_layer": layers, "d_model": width, "d_inner": [inner] * 3}
               for layers in (1, 2) for width, inner in ((16, 20), (16, 48), (32, 20), (32, 48), (32, 64))]
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', configs)}")
    with pytest.raises(ConfigError, match="give with_steps"):
        ProxySearch(step_details=True).check()
    search = ProxySearch(population=12, generations=1, folds=1, jobs=1, with_steps=1, step_details=True,
                         output=tmp_path / "run")
    table = search._table(bench)
    assert {"steps1_attention_grad_norm_first", f"steps1_{activation_feature_names()[0]}"} <= set(table.columns)
    search.fit(bench)
    assert search.run_.config["arguments"]["step_details"] is True
    assert np.isfinite(search.predict(bench)).all()


def test_step_details_without_a_step_count_is_one_line(capsys, tmp_path):
    assert "with_steps" in one_clean_line(capsys, ["search", "nas-bench-bert", "-o", str(tmp_path / "r"),
                                                   "--step-details"])


def test_a_data_probe_that_fails_after_the_steps_leaves_the_training_signals(tiny, synthetic_text, monkeypatch):
    """A trained model whose activations the probe's eigensolver cannot follow has NaN data columns, not a lost
    run: its losses and gradients are what they are."""
    from discover import build_model
    from discover.probing import activations
    arch = tiny.archs[0]
    settings = StepSettings(steps=(1, 2), batch=4, seq=16, heldout_windows=2, data_after=True)

    def fails(run):
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")
    monkeypatch.setattr(activations, "activation_features", fails)
    values, _ = train_steps(build_model(tiny, arch), tiny.family, arch.config, settings)
    probe = f"steps2_{activations.activation_feature_names()[0]}"
    assert np.isnan(values[probe]) and np.isfinite(values["steps2_heldout_loss"])
    plain, _ = train_steps(build_model(tiny, arch), tiny.family, arch.config,
                           StepSettings(steps=(1, 2), batch=4, seq=16, heldout_windows=2))
    assert {k: values[k] for k in plain} == plain
