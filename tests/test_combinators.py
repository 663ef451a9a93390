from primitives.combinators import MATRIX_ROLES, aggregate, feature_names
from primitives.statistics import STATISTICS


def values(x):
    return {name: float(x) for name in STATISTICS}


def test_layers_combine_then_aggregate():
    matrices = [("ffn", 0, values(1)), ("ffn", 0, values(2)), ("ffn", 1, values(5)), ("attention", 0, values(4)),
                ("embedding", None, values(7))]
    f = aggregate(matrices)
    # additive statistics sum within a layer: layer 0 -> 3, layer 1 -> 5
    assert f["sum_ffn_fro2"] == 8 and f["mean_ffn_fro2"] == 4 and f["max_ffn_fro2"] == 5 and f["min_ffn_fro2"] == 3
    # spectral norm takes the max within a layer: layer 0 -> 2
    assert f["min_ffn_spectral"] == 2 and f["sum_ffn_spectral"] == 7
    assert f["count_ffn"] == 2 and f["count_attention"] == 1 and f["count_embedding"] == 1
    assert f["sum_embedding_logdet"] == 7


def test_absent_role_is_zero():
    f = aggregate([("ffn", 0, values(1))])
    assert f["count_mixing"] == 0
    assert all(f[f"{agg}_mixing_logdet"] == 0 for agg in ("sum", "mean", "max", "min"))


def test_names_are_complete_and_shared():
    names = feature_names()
    assert len(names) == len(set(names)) == len(MATRIX_ROLES) * len(STATISTICS) * 4
    assert "sum_ffn_logdet" in names and set(names) <= set(aggregate([]))
