"""ProxySearch follows scikit-learn's estimator protocol (issue #30): check_is_fitted, clone, NotFittedError, and the
estimator checks that apply to an estimator fitted on benchmarks rather than on arrays."""
import inspect
import warnings

import numpy as np
import pytest

from discover import ProxySearch

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError as SklearnNotFittedError  # noqa: E402
from sklearn.utils import estimator_checks  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

# Every check of sklearn.utils.estimator_checks that does not fit on arrays (fit here takes benchmarks): the
# constructor stores its arguments unchanged, get_params / set_params / clone / repr / tags behave, and an unfitted
# estimator refuses to predict with NotFittedError.
APPLICABLE = ["check_no_attributes_set_in_init", "check_parameters_default_constructible",
              "check_get_params_invariance", "check_set_params", "check_estimator_repr", "check_estimator_cloneable",
              "check_estimator_tags_renamed", "check_valid_tag_types", "check_mixin_order",
              "check_estimators_unfitted"]


@pytest.mark.parametrize("check", APPLICABLE)
def test_the_applicable_estimator_checks_pass(check):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a check that only warns would pass unseen
        getattr(estimator_checks, check)("ProxySearch", ProxySearch())


def test_check_is_fitted_and_not_fitted_error_are_scikit_learns():
    from discover.errors import NotFittedError
    assert issubclass(NotFittedError, SklearnNotFittedError)
    search = ProxySearch(population=30)
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(search)
    with pytest.raises(NotFittedError, match="call fit"):
        search.predict("nas-bench-bert")   # refused before the benchmark is loaded
    assert not hasattr(search, "formula_")


def test_check_is_fitted_passes_after_fit_and_clone_forgets_it(tmp_path, tables):
    bench, _ = tables("nas-bench-bert")
    search = ProxySearch(population=20, generations=1, folds=1, jobs=1, output=tmp_path / "run").fit(bench)
    check_is_fitted(search)
    copy = clone(search)
    assert copy.get_params() == search.get_params()
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(copy)
    assert np.isfinite(search.predict(bench)).all()


def test_init_and_set_params_never_validate():
    """scikit-learn's check_do_not_raise_errors_in_init_or_set_params, over the named parameters: the check itself
    also passes a value for the catch-all ``**unknown`` that answers a misspelled option with 'did you mean', so it
    is run here on the parameters alone."""
    names = [p.name for p in inspect.signature(ProxySearch).parameters.values() if p.kind == p.KEYWORD_ONLY]
    for value in (-1, 3.0, "helloworld", np.array([1.0, 4.0]), [1], {}, []):
        params = dict.fromkeys(names, value)
        ProxySearch(**params).set_params(**params)
    with pytest.raises(Exception, match="Did you mean 'population'"):
        ProxySearch(populaton=30)
