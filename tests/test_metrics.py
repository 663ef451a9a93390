import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from discover.metrics import iso_param_pairs, kendall_tau_b_pairs, rank_quality, top_fraction_precision


def test_perfect_and_reversed():
    target = np.arange(20.0)
    assert rank_quality(target * 3, target).kendall == pytest.approx(1.0)
    reverse = rank_quality(-target, target)
    assert reverse.spearman == pytest.approx(-1.0) and reverse.kendall == pytest.approx(-1.0)  # the sign is kept


def test_constant_and_nonfinite_give_nan_with_reason():
    target = np.arange(10.0)
    constant = rank_quality(np.ones(10), target)
    assert math.isnan(constant.kendall) and "constant" in constant.reason
    broken = rank_quality(np.r_[np.ones(9), np.nan], target)
    assert math.isnan(broken.spearman) and "1 of 10 scores are not finite" in broken.reason


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=30))
def test_pairwise_tau_b_equals_scipy_on_all_pairs(points):
    x, y = np.array(points, dtype=float).T
    i, j = np.triu_indices(len(x), k=1)
    ours = kendall_tau_b_pairs(x, y, i, j)
    theirs = stats.kendalltau(x, y, variant="b").statistic
    assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs)


def test_iso_params_only_compares_similar_sizes():
    n_params = np.array([100.0, 105.0, 200.0, 209.0, 1000.0])
    i, j = iso_param_pairs(n_params)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (2, 3)]
    # a proxy equal to size gets both iso pairs right; one that inverts them within a pair gets -1
    target = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert rank_quality(n_params, target, n_params).kendall_iso_params == pytest.approx(1.0)
    inverted = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    result = rank_quality(inverted, target, n_params)
    assert result.kendall_iso_params == pytest.approx(-1.0) and result.iso_pairs == 2


def test_top_precision():
    target = np.arange(20.0)
    scores = target.copy()
    scores[[18, 0]] = scores[[0, 18]]
    assert top_fraction_precision(scores, target) == 0.5
