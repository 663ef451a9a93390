import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from primitives.statistics import STATISTICS, matrix_statistics, register, singular_values


def stats_of(matrix):
    m = torch.as_tensor(matrix, dtype=torch.float64)
    return matrix_statistics(singular_values(m), tuple(m.shape))


def test_hand_computed_diagonal():
    # singular values 3, 4 (and a 2 x 3 shape): every statistic can be worked out by hand
    s = stats_of([[4.0, 0, 0], [0, 3.0, 0]])
    assert s["numel"] == 6 and s["fro2"] == pytest.approx(25) and s["capacity"] == pytest.approx(12.5)
    assert s["nuclear"] == pytest.approx(7) and s["spectral"] == pytest.approx(4)
    assert s["stable_rank"] == pytest.approx(25 / 16)
    p = np.array([4, 3]) / 7
    assert s["eff_rank"] == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert s["logdet"] == pytest.approx(math.log(17) + math.log(10))
    assert s["pca99"] == 2 and s["log_cond"] == pytest.approx(math.log(4 / 3))
    # Xavier rescale: variance 25/6 -> 2/5, so s^2 scale by (2/5) / (25/6) = 12/125
    assert s["logdet_xavier"] == pytest.approx(math.log1p(16 * 12 / 125) + math.log1p(9 * 12 / 125))


def test_pca99_counts_energy():
    s = stats_of(np.diag([10.0, 1.0, 0.01]))
    assert s["pca99"] == 1  # 100 / 101.0001 > 0.99


def test_zero_matrix_is_defined():
    s = stats_of(np.zeros((3, 5)))
    assert all(math.isfinite(v) for v in s.values())
    assert s["fro2"] == 0 and s["eff_rank"] == 0 and s["log_cond"] == 0 and s["numel"] == 15


def test_nonfinite_matrix_is_a_clear_error():
    with pytest.raises(ValueError, match="layer.w .* non-finite"):
        singular_values(torch.tensor([[1.0, float("nan")]]), "layer.w")


def test_duplicate_statistic_rejected():
    with pytest.raises(ValueError, match="registered twice"):
        register("fro2", "again")(lambda s, shape: 0.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
              elements=st.floats(-10, 10, allow_nan=False)))
def test_statistics_ignore_transpose_and_are_finite(matrix):
    a, b = stats_of(matrix), stats_of(matrix.T)
    for name in STATISTICS:
        assert math.isfinite(a[name])
        assert a[name] == pytest.approx(b[name], rel=1e-6, abs=1e-6), name


@settings(max_examples=20, deadline=None)
@given(st.floats(0.01, 100))
def test_logdet_xavier_ignores_the_init_scale(scale):
    w = np.random.default_rng(0).standard_normal((20, 7))
    assert stats_of(w * scale)["logdet_xavier"] == pytest.approx(stats_of(w)["logdet_xavier"], rel=1e-9)


def test_log_cond_of_a_subnormal_matrix_is_finite():
    # found by hypothesis in CI: 1e-12 x a subnormal s_max underflows to 0
    s = stats_of(np.full((2, 2), 2.22507386e-313))
    assert math.isfinite(s["log_cond"]) and s["log_cond"] == pytest.approx(math.log(1e12))
