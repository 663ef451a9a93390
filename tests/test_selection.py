import math

import pandas as pd
import pytest

from discover.search.selection import choose


def front(rows):
    return pd.DataFrame(rows, columns=["complexity", "validation", "formula"])


def test_simplest_within_delta_of_best():
    table = front([(1, 0.60, "a"), (3, 0.705, "b"), (5, 0.71, "c"), (9, 0.72, "d")])
    assert choose(table, delta=0.02)["formula"] == "b"
    assert choose(table, delta=0.0)["formula"] == "d"
    assert choose(table, delta=1.0)["formula"] == "a"


def test_ties_in_complexity_go_to_better_validation():
    table = front([(3, 0.70, "x"), (3, 0.71, "y"), (7, 0.715, "z")])
    assert choose(table, delta=0.01)["formula"] == "y"


def test_non_finite_validation_is_never_chosen():
    table = front([(1, math.nan, "nan"), (2, 0.5, "ok")])
    assert choose(table)["formula"] == "ok"
    with pytest.raises(ValueError, match="no formula"):
        choose(front([(1, math.nan, "nan")]))


def test_one_standard_error_shrinks_with_more_items_and_stronger_correlations():
    from discover.search.selection import one_standard_error
    assert one_standard_error(0.9, 125) < one_standard_error(0.9, 40)
    assert one_standard_error(0.95, 125) < one_standard_error(0.5, 125)
    assert one_standard_error(0.92, 125) == pytest.approx((1 - 0.92 ** 2) * 1.03 / math.sqrt(122))
