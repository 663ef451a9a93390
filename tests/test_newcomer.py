"""The rough edges a new user met (issue #22), each fixed and kept fixed."""
import argparse
import json

import numpy as np
import pytest

from discover import ProxySearch, featurize, score_proxy
from discover.cli import build_parser, main
from discover.errors import DataError, NotFittedError
from tests.test_faults import one_clean_line
from tests.test_search import synthetic


def test_what_the_search_can_emit_score_and_features_accept(capsys, flexibert):
    assert main(["score", "nas-bench-bert", "--formula", "count_ffn", "--json", "--jobs", "1"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 500
    assert main(["features", "--with-activations"]) == 0
    listed = capsys.readouterr().out.split("All: ")[1].split()
    assert len(listed) == len(set(listed))
    assert {"count_ffn", "count_attention", "n_params", "sum_ffn_token_rank", "ratio_ffn_grad_norm"} <= set(listed)
    assert "target" not in listed and "arch_id" not in listed


def test_resume_takes_the_runs_own_options_and_refuses_a_conflict_before_any_work(tmp_path, capsys, monkeypatch,
                                                                                  flexibert):
    run = tmp_path / "run"
    assert main(["-q", "search", "nas-bench-bert", "-o", str(run), "--folds", "2", "--population", "20",
                 "--generations", "2", "--jobs", "1", "--seed", "3"]) == 0
    capsys.readouterr()
    import discover.api
    monkeypatch.setattr(discover.api, "featurize", lambda *a, **k: pytest.fail("featurized before refusing"))
    err = one_clean_line(capsys, ["search", "-o", str(run), "--resume", "--seed", "8"])
    assert "started with --seed 3, not 8" in err
    monkeypatch.undo()
    (run / "stages" / "final.json").unlink()
    assert main(["-q", "search", "-o", str(run), "--resume", "--jobs", "1"]) == 0   # no option retyped
    assert "held out on nas-bench-bert" in capsys.readouterr().out


def test_the_estimator_follows_scikit_learn():
    with pytest.raises(Exception, match="Did you mean 'population'"):
        ProxySearch(populaton=30)
    search = ProxySearch(population=30, generations=2)
    assert not hasattr(search, "formula_")
    with pytest.raises(NotFittedError, match="not been fitted"):
        search.formula_
    params = search.get_params()
    assert params["population"] == 30 and params["jobs"] == -1 and "operators" in params
    assert search.set_params(generations=3).generations == 3
    sklearn = pytest.importorskip("sklearn.base")
    copy = sklearn.clone(search)
    assert copy.get_params() == search.get_params() and copy is not search


def test_predict_gives_one_score_per_architecture(tmp_path, tables):
    bench, table = tables("nas-bench-bert")
    search = ProxySearch(population=20, generations=1, folds=1, jobs=1, output=tmp_path / "run").fit(bench)
    scores = search.predict(bench)
    assert scores.shape == (500,)
    np.testing.assert_array_equal(scores, search.formula_.evaluate(table))


def test_the_api_defaults_are_the_command_lines():
    import inspect
    defaults = vars(build_parser().parse_args(["search", "x", "-o", "y"]))
    assert ProxySearch().jobs == -1 and defaults["jobs"] is None   # both: every core
    assert inspect.signature(featurize).parameters["n_jobs"].default == -1
    assert inspect.signature(score_proxy).parameters["n_jobs"].default == -1
    assert ProxySearch().population == defaults["population"] and ProxySearch().generations == defaults["generations"]


def test_zerolm_says_when_its_alpha_saw_the_scored_architectures(tables, caplog):
    bench, table = tables("nas-bench-bert")
    result = score_proxy(bench, "zerolm", ids=[a.id for a in bench.archs[:10]], table=table)
    assert "not held out" in caplog.text and "10 of the 10" in result["info"]["alpha_fitted_on_compared"]


def test_help_states_each_default_once():
    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in verbs.choices.items():
        text = sub.format_help()
        for line in text.split("\n  -"):
            assert line.count("(default:") <= 1, (name, line)


def test_a_failed_fetch_says_where_it_looked(tmp_path, monkeypatch, capsys):
    import discover.benchmarks.catalog as catalog
    monkeypatch.delenv("ZC_DISCOVER_OFFLINE", raising=False)

    def fail(*args, **kwargs):
        raise DataError("download of https://example failed (no network)")
    monkeypatch.setattr(catalog, "fetch", fail)
    err = one_clean_line(capsys, ["--data-dir", str(tmp_path / "nothing"), "score", "nas-bench-bert",
                                  "--proxy", "params"])
    assert str(tmp_path / "nothing") in err and "--data-dir" in err


def test_report_figures_are_labelled(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from discover import compare
    from discover.comparison import compare_provenance, write_report
    from discover.probing import ProbeSettings
    from tests.test_loaders import GPT2, lts_folder
    from discover import load_benchmark
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', [GPT2, {**GPT2, 'n_layer': 1}, {**GPT2, 'd_inner': 48}])}")
    report = compare(bench, ["params", "flops"], n_jobs=1)
    figures = []
    monkeypatch.setattr(plt, "close", lambda figure=None: figures.append(figure))
    write_report(report, tmp_path / "report", compare_provenance(bench, None, 0, ProbeSettings(), "cpu", report))
    scatter, bars = figures
    assert all(axis.get_xlabel() and axis.get_ylabel() for axis in scatter.axes if axis.has_data())
    assert "discovered" not in bars.axes[0].get_xlabel()
