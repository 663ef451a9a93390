"""The supervised references (config_linear, config_gbr) score each architecture by a model that never saw its label,
on the search's own folds; the config fields read every shipped family's names."""
import numpy as np
import pandas as pd
import pytest

from discover.features.config_fields import config_fields, width_heads_ffn
from discover.metrics import fold_rows
from discover.proxies.supervised import cross_validated

pytest.importorskip("sklearn")


def fields(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"log_params_nonembedding": rng.random(n), "n_layers": rng.integers(1, 9, n).astype(float),
                         "width": rng.choice([64.0, 128.0, 256.0], n), "heads": np.full(n, 4.0)})


@pytest.mark.parametrize("kind", ["linear", "gbr"])
def test_a_prediction_never_sees_its_own_label(kind):
    table = fields()
    target = table["log_params_nonembedding"].to_numpy() * 2 + table["n_layers"].to_numpy() * 0.1
    before = cross_validated(table, target, kind, seed=3)
    test = fold_rows(len(target), 5, 3)[0]
    changed = target.copy()
    changed[test] += 100.0   # the labels of one fold: its own predictions must not move
    after = cross_validated(table, changed, kind, seed=3)
    np.testing.assert_array_equal(before[test], after[test])
    assert not np.allclose(np.delete(before, test), np.delete(after, test))   # the other folds learnt from them


def test_a_linear_relation_is_found_and_constant_fields_are_left_out():
    table = fields(60)
    target = 3 * table["log_params_nonembedding"].to_numpy()
    predicted = cross_validated(table, target, "linear", seed=0)
    assert np.corrcoef(predicted, target)[0, 1] > 0.99


def test_the_config_fields_of_each_family():
    assert width_heads_ffn({"hidden_size": 256, "layers": [{"num_operation_heads": 4, "feed_forward_dimension": 512},
                                                           {"num_operation_heads": 2, "feed_forward_dimension": 1024}]}) \
        == (256.0, 3.0, 768.0)
    assert width_heads_ffn({"d_model": 128, "n_head": [2, 4], "d_inner": [100, 300]}) == (128.0, 3.0, 200.0)
    assert width_heads_ffn({"hf": {"n_embd": 64, "n_head": 4, "n_inner": None}}) == (64.0, 4.0, 256.0)
    structure = pd.DataFrame({"arch_id": ["a"], "params_nonembedding": [1000.0], "params_attention": [400.0],
                              "params_ffn": [600.0], "params_embedding": [0.0], "n_layers": [2.0]})
    row = config_fields(structure, {"a": {"d_model": 128, "n_head": 4, "d_inner": 512}}).iloc[0]
    assert row.ffn_ratio == 4.0 and row.log_params_embedding == 0.0 and row.log_params_nonembedding == np.log(1000)


def test_compare_reports_them_as_supervised(flexibert, tables):
    from discover import compare
    _, table = tables("nas-bench-bert")
    report = compare(flexibert, ["params", "config_linear"], n_jobs=1, table=table).set_index("proxy")
    assert "supervised" in report.loc["config_linear", "note"] and report.loc["config_linear", "needs"] == \
        "counts+labels"
    assert report.loc["config_linear", "kendall"] > report.loc["params", "kendall"]
