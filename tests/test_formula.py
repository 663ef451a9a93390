import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discover.errors import UnknownNameError
from discover.formula import Formula, FormulaError

TABLE = pd.DataFrame({"sum_ffn_logdet": [1.0, 2.0, 4.0], "n_layers": [2.0, 4.0, 4.0], "flops": [3.0, 1.0, 2.0]})


def test_evaluates_like_numpy():
    f = Formula.from_string("log(sum_ffn_logdet) / n_layers + max(flops, 2) ** 2 - abs(-1)", TABLE.columns)
    expected = np.log(TABLE.sum_ffn_logdet) / TABLE.n_layers + np.maximum(TABLE.flops, 2) ** 2 - 1
    np.testing.assert_allclose(f.evaluate(TABLE), expected)
    assert f.features == ["flops", "n_layers", "sum_ffn_logdet"]
    assert r"\mathrm{sum\_ffn\_logdet}" in f.latex()


def test_constant_formula_broadcasts():
    assert Formula.from_string("2 * 3", TABLE.columns).evaluate(TABLE).tolist() == [6.0, 6.0, 6.0]


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "sum_ffn_logdet.real", "sum_ffn_logdet[0]", "(lambda: 1)()",
    "open('/etc/passwd')", "[x for x in flops]", "flops if n_layers else 1", "eval('1')", "flops ** flops",
    "2 ** 2 ** 2 ** 2 ** 2", "__class__", "log(flops, base=2)", "'text'", "flops < 3", "min(flops)",
    "getattr(flops, 'x')", "x := 1",
])
def test_hostile_or_malformed_formulas_are_refused(text):
    with pytest.raises((FormulaError, UnknownNameError)):
        Formula.from_string(text, TABLE.columns)


def test_unknown_feature_suggests_close_names():
    with pytest.raises(UnknownNameError, match="Did you mean 'sum_ffn_logdet'"):
        Formula.from_string("sum_ffn_logdte + 1", TABLE.columns)


def test_operator_typo_suggests():
    with pytest.raises(FormulaError, match="did you mean sqrt"):
        Formula.from_string("sqr(flops)", TABLE.columns)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="flopsn_ayer()+-*/.,[]'\"0123456789 _lambdimport:", max_size=40))
def test_arbitrary_text_never_runs_code(text):
    """Whatever is typed, parsing either yields a sympy expression or refuses with a formula error."""
    try:
        Formula.from_string(text, TABLE.columns)
    except (FormulaError, UnknownNameError):
        pass


def test_sympy_printed_forms_read_back():
    f = Formula.from_string("abs(flops - 2) + max(flops, n_layers, sum_ffn_logdet) + min(flops, 1)", TABLE.columns)
    again = Formula.from_string(str(f), TABLE.columns)
    np.testing.assert_allclose(again.evaluate(TABLE), f.evaluate(TABLE))
    assert "Abs" in str(f) and "Max" in str(f)


@pytest.mark.parametrize("text", ["1 / 0", "n_layers / 0", "log(-1)", "log(-1) * n_layers", "sqrt(-n_layers)",
                                  "0 / 0 + flops", "log(0) * flops"])
def test_formulas_that_fold_to_complex_infinite_or_undefined_values_give_nan_with_a_reason(text):
    table = pd.DataFrame({"n_layers": [1.0, 2.0, 3.0], "flops": [4.0, 5.0, 6.0]})
    formula = Formula.from_string(text, table.columns)
    values, reason = formula.evaluate_with_reason(table)
    assert values.shape == (3,) and np.isnan(values).all() and reason
    formula.latex()          # every form prints
    formula.to_python()


def test_thousands_of_signs_are_refused_without_a_traceback():
    with pytest.raises(FormulaError, match="nested"):
        Formula.from_string("-" * 3990 + "n_layers", ["n_layers"])
    with pytest.raises(FormulaError):
        Formula.from_string("(" * 300 + "n_layers" + ")" * 300, ["n_layers"])
