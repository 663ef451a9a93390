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


# --- issue #30: a newcomer's first hour ------------------------------------------------------------------------------

def test_bare_zc_discover_prints_the_usage(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: zc-discover") and "search" in out and "benchmarks" in out


def test_help_and_the_benchmark_listing_load_no_torch():
    import subprocess
    import sys
    code = ("import sys\nfrom discover.cli import main\nimport contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['benchmarks', '--roles'])\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'pandas', 'scipy', 'sympy', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_score_prints_the_size_matched_kendall_and_counts_need_no_svd(capsys, monkeypatch, flexibert):
    import discover.features.table as table
    monkeypatch.setattr(table, "key_statistics", lambda *a: pytest.fail("a count needs no SVD"))
    assert main(["score", "nas-bench-bert", "--proxy", "params", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "kendall_size_matched" in out and "partial_spearman" in out and "kendall_iso_params" not in out
    assert main(["score", "nas-bench-bert", "--formula", "params_ffn / n_layers", "--jobs", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 500


def test_compare_shows_the_columns_a_reader_needs_and_charges_counts_their_own_cost(flexibert, tables):
    from discover import compare
    from discover.comparison import shown
    _, table = tables("nas-bench-bert")
    report = compare(flexibert, ["params", "flops", "nsc"], n_jobs=1, table=table)
    columns = list(shown(report).columns)
    assert columns[:3] == ["proxy", "kendall", "kendall_size_matched"] and "needs" in columns
    assert "kendall_iso_params" not in columns and "needs_gradients" not in columns
    assert not any(c.startswith("heldout") for c in columns)   # no run, no held-out columns
    cost = report.set_index("proxy")["seconds_per_arch"]
    # the counts cost the models' shapes, not the SVDs (plus the microseconds of reading a column)
    assert cost["params"] == pytest.approx(cost["flops"], abs=1e-3) and cost["params"] < cost["nsc"]
    assert cost["params"] == pytest.approx(table.attrs["structure_seconds"] / len(table), rel=0.2, abs=0.01)


def test_too_many_folds_for_a_small_space_are_refused_before_any_model_is_measured(capsys, monkeypatch, flexibert):
    from discover import Benchmark
    import discover.api
    monkeypatch.setattr(discover.api, "featurize", lambda *a, **k: pytest.fail("measured before refusing"))
    small = Benchmark.from_builder([f"m{i}" for i in range(12)], [{"width": 8}] * 12, list(range(12)),
                                   build=lambda config, seed: None, name="small")
    with pytest.raises(DataError, match=r"--folds 2 \(folds=2\) is the most it can hold"):
        ProxySearch(output="runs-never").fit(small)


def test_probe_says_what_it_reused_why_values_failed_and_how_to_probe_again(tmp_path, capsys, caplog, flexibert):
    out = tmp_path / "v.csv.gz"
    assert main(["probe", "nas-bench-bert", "--limit", "3", "--proxies", "snip", "lpzero_synflow",
                 "--no-activations", "--jobs", "1", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "from the stored values" in printed and "--recompute" in printed
    assert "lpzero_synflow failed on 3 of 3 architectures: ValueError: LPZero's synflow" in caplog.text
    caplog.clear()
    caplog.set_level("INFO")
    assert main(["probe", "nas-bench-bert", "--limit", "1", "--proxies", "snip", "--no-activations", "--jobs", "1",
                 "--recompute", "-o", str(out)]) == 0
    assert "probing 1 architecture(s)" in caplog.text and "from the stored values" not in capsys.readouterr().out


def test_a_bert_config_in_a_causal_lm_folder_is_refused(tmp_path):
    from discover import load_benchmark
    from tests.test_hf import hf_folder
    folder = hf_folder(tmp_path / "b", "bert", n=2, task="causal-lm")
    with pytest.raises(DataError, match="bidirectional encoder.*task: masked-lm"):
        load_benchmark(f"hf:{folder}")
    ok = hf_folder(tmp_path / "d", "bert", n=2, task="causal-lm", extra={"is_decoder": True})
    assert len(load_benchmark(f"hf:{ok}")) == 2


def test_a_formula_cut_short_says_so_and_a_benchmark_prints_in_one_line(flexibert):
    from discover import Benchmark, Formula
    from discover.errors import ZcDiscoverError
    with pytest.raises(ZcDiscoverError, match="ends early: 'n_params\\*'"):
        Formula.from_string("n_params*", ["n_params"])
    with pytest.raises(ZcDiscoverError, match="at character 10"):
        Formula.from_string("n_params n_layers", ["n_params", "n_layers"])
    small = Benchmark.from_builder(["a", "b"], [{}, {}], [1.0, 2.0], build=lambda config, seed: None, name="mine")
    text = repr(small)
    assert "lambda" not in text and "function" not in text and text.count("\n") == 0 and "'mine'" in text
    assert repr(flexibert).startswith("Benchmark('nas-bench-bert', family='flexibert', 500 architectures")
