import math

import numpy as np
import pandas as pd
import pytest

from discover.errors import UnknownNameError
from discover.proxies import PROXIES, ProxyContext, get_proxy, register_proxy
from discover.proxies.marchenko_pastur import expected_logdet
from discover.proxies.weights import zerolm_alpha
from discover.api import score_proxy as score


def test_registry_rejects_duplicates_and_suggests():
    with pytest.raises(ValueError, match="registered twice"):
        register_proxy("zerolm", "", "")(lambda ctx: None)
    with pytest.raises(UnknownNameError, match="Did you mean 'zerolm'"):
        get_proxy("zerolms")
    assert {"params", "zerolm", "nsc", "nsc_mp", "flops"} <= set(PROXIES)


def test_zerolm_alpha_on_a_hand_written_table():
    # target = ffn + 2 attn exactly: the sweep must find alpha = 2 on any sample
    rng = np.random.default_rng(0)
    s_ffn, s_attn = rng.random(60), rng.random(60)
    target = s_ffn + 2 * s_attn
    alpha, rho = zerolm_alpha(s_ffn, s_attn, target, np.arange(50))
    assert alpha == pytest.approx(2.0) and rho == pytest.approx(1.0)
    # a grid that stops short puts the best alpha on its edge
    assert zerolm_alpha(s_ffn, s_attn, target, np.arange(50), (0.0, 1.0, 0.25))[0] == 1.0


def test_zerolm_reports_its_sample_and_alpha(flexibert):
    table = pd.DataFrame({"arch_id": [str(i) for i in range(80)], "target": np.arange(80.0),
                          "sum_ffn_capacity": np.arange(80.0), "sum_attention_capacity": np.zeros(80)})
    result = get_proxy("zerolm").function(ProxyContext(flexibert, table, "as-trained", seed=3))
    assert len(result.info["sample_ids"]) == 50 and result.info["alpha"] == 0.0
    fixed = get_proxy("zerolm").function(ProxyContext(flexibert, table, "as-trained", options={"alpha": 0.5}))
    assert fixed.info == {"alpha": 0.5}


@pytest.mark.parametrize("m, n", [(256, 256), (1024, 256), (64, 512), (128, 18)])
def test_marchenko_pastur_closed_form_matches_sampled_matrices(m, n):
    rng = np.random.default_rng(1)
    sampled = [np.log1p(np.linalg.svd(rng.standard_normal((m, n)) * math.sqrt(2 / (m + n)),
                                      compute_uv=False) ** 2).sum() for _ in range(5)]
    assert expected_logdet(m, n) == pytest.approx(np.mean(sampled), rel=0.04)
    assert expected_logdet(m, n) == pytest.approx(expected_logdet(n, m))


# The numbers the literature reports, reproduced on the real benchmarks.

def test_params_reproduces_the_legacy_baseline(tables):
    bench, table = tables("nas-bench-bert", "legacy")
    result = score(bench, "params", builder="legacy", table=table)
    assert result["spearman"] == pytest.approx(0.652, abs=0.0015)
    assert result["kendall"] == pytest.approx(0.454, abs=0.0015)


@pytest.mark.slow
def test_params_on_gpt2_is_the_nonembedding_count(tables):
    bench, table = tables("lts-gpt2-wt103")
    result = score(bench, "params", table=table)
    assert result["spearman"] == pytest.approx(0.967, abs=0.0015)
    assert result["kendall"] == pytest.approx(0.847, abs=0.0015)


def test_zerolm_and_nsc_on_the_as_trained_models(tables):
    bench, table = tables("nas-bench-bert")
    zerolm = score(bench, "zerolm", table=table)
    assert zerolm["spearman"] >= 0.70 and 0.0 <= zerolm["info"]["alpha"] <= 3.0
    assert score(bench, "nsc", table=table)["kendall"] >= 0.66


@pytest.mark.parametrize("name, builder", [("nas-bench-bert", "spec"), ("nas-bench-bert", "legacy"),
                                           pytest.param("lts-gpt2-wt103", None, marks=pytest.mark.slow)])
def test_nsc_closed_form_agrees_with_measured(tables, name, builder):
    bench, table = tables(name, builder)
    measured = score(bench, "nsc", builder=builder, table=table)["kendall"]
    closed = score(bench, "nsc_mp", builder=builder, table=table)["kendall"]
    assert abs(measured - closed) <= 0.01


def test_constant_proxy_is_nan_with_reason(tables):
    bench, table = tables("nas-bench-bert")
    result = score(bench, formula="count_embedding", table=table)
    assert math.isnan(result["kendall"]) and "constant" in result["reason"]


def test_target_is_not_a_feature(tables):
    bench, table = tables("nas-bench-bert")
    from discover.formula import FormulaError
    with pytest.raises((UnknownNameError, FormulaError), match="target"):
        score(bench, formula="target", table=table)


def test_ids_subset_and_unknown_ids(tables):
    from discover.errors import DataError
    bench, table = tables("nas-bench-bert")
    result = score(bench, "params", ids=[str(i) for i in range(0, 500, 2)], table=table)
    assert result["n"] == 250
    with pytest.raises(DataError, match="not architectures of nas-bench-bert: 9999"):
        score(bench, "params", ids=["1", "9999"], table=table)
