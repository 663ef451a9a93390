"""Reliability II (issue #31): the campaign's cases, each a test that fails without its fix - exports that cannot
carry code, writes that stay home, resumes and caches bound to what made them, bounded readers, strict options."""
import ast
import gzip
import json
import os
import time

import pytest

from discover import ProxySearch
from discover.cli import main
from discover.errors import ConfigError, DataError, UnknownNameError, ZcDiscoverError
from discover.runs import MARKER, RunFolderError
from discover.search import search_tables
from discover.search.loop import SearchConfig
from tests.test_faults import one_clean_line
from tests.test_hf import hf_folder
from tests.test_loaders import GPT2, lts_folder
from tests.test_search import synthetic

SMALL = SearchConfig(population=30, generations=3, seed=5)


@pytest.fixture
def finished(tmp_path):
    search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, folds=2, progress=False)
    return tmp_path / "run"


@pytest.fixture
def tiny_lts(tmp_path):
    return lts_folder(tmp_path / "space", [{**GPT2, "d_inner": [32 + 8 * i, 48]} for i in range(12)])


def search(args, folder):
    return ["-q", "search", *args, "-o", str(folder), "--folds", "2", "--population", "20", "--generations", "2",
            "--jobs", "1"]


# --- 1. exports render only what they can vouch for --------------------------------------------------------------

INJECTED = '"""\nimport os; os.system("touch PWNED")\n"""'


def craft(run, arguments=None, versions=None):
    config = json.loads((run / "config.json").read_text())
    config["arguments"].update(arguments or {})
    config["versions"].update(versions or {})
    (run / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("arguments, versions", [
    ({"benchmarks": [INJECTED]}, None), (None, {"zc-discover": INJECTED}), ({"seed": 0, "benchmarks": ["ok", "x\\"]},
                                                                          {"zc-discover": "1.0\n\"\"\"; import os"})])
def test_an_export_never_carries_code_from_the_run_folder(finished, tmp_path, capsys, arguments, versions):
    craft(finished, arguments, versions)
    assert main(["export", str(finished), "--format", "python"]) == 0
    module = capsys.readouterr().out
    tree = ast.parse(module)
    assert [type(n).__name__ for n in tree.body] == ["Expr", "Import", "Import", "Assign", "Assign", "FunctionDef",
                                                     "FunctionDef"]
    assert "os.system" not in module and "import os" not in module
    (tmp_path / "proxy.py").write_text(module)
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", "import proxy"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists()


def test_latex_and_sympy_exports_carry_no_command_from_the_run_folder(finished, capsys):
    craft(finished, {"benchmarks": ["\\immediate\\write18{touch PWNED}"]}, {"zc-discover": "\\input{/etc/passwd}"})
    assert main(["export", str(finished), "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert "\\write18" not in latex and "\\input" not in latex and "\\immediate" not in latex
    assert main(["export", str(finished), "--format", "sympy"]) == 0
    assert "\\" not in capsys.readouterr().out


# --- 2-5. writes stay home ---------------------------------------------------------------------------------------

def test_force_through_a_link_to_a_folder_deletes_nothing(finished, tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(finished)
    before = sorted(p.name for p in finished.rglob("*"))
    err = one_clean_line(capsys, search(["nas-bench-bert"], link) + ["--force"])
    assert "symbolic link" in err and sorted(p.name for p in finished.rglob("*")) == before


def test_force_on_a_folder_that_is_not_a_run_folder_deletes_nothing(tmp_path, capsys):
    folder = tmp_path / "mine"
    (folder / "stages").mkdir(parents=True)
    (folder / "stages" / "notes.txt").write_text("precious")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "data.json").write_text("{}")
    (folder / "config.json").write_text('{"mine": true}')
    err = one_clean_line(capsys, search(["nas-bench-bert"], folder) + ["--force"])
    assert "not a run folder" in err
    assert (folder / "stages" / "notes.txt").read_text() == "precious" and (folder / "checkpoints" / "data.json").exists()


def test_a_run_folder_holding_a_foreign_file_in_stages_is_not_cleared(finished, capsys):
    (finished / "stages" / "notes.txt").write_text("precious")
    err = one_clean_line(capsys, search(["nas-bench-bert"], finished) + ["--force"])
    assert "no search wrote" in err and (finished / "stages" / "notes.txt").read_text() == "precious"


def test_force_on_a_run_folder_of_this_project_clears_it(finished):
    assert (finished / MARKER).is_file()
    search_tables({"toy": synthetic()}, finished, SMALL, folds=2, progress=False, force=True)


@pytest.mark.parametrize("name", ["equations.csv", "logbook.csv", "front.png"])
def test_resume_never_writes_through_a_hard_link(finished, tmp_path, name):
    outside = tmp_path / f"outside-{name}"
    os.link(finished / name, outside)
    before = outside.read_bytes()
    (finished / "stages" / "final.json").unlink()
    with pytest.raises(ZcDiscoverError, match="hard link"):
        search_tables({"toy": synthetic()}, finished, SMALL, folds=2, resume=True, progress=False)
    assert outside.read_bytes() == before


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_compare_output_never_writes_through_links(tmp_path, capsys, tiny_lts, link):
    out = tmp_path / "report"
    out.mkdir()
    victim = tmp_path / "victim.csv"
    victim.write_text("precious")
    if link == "symbolic":
        (out / "compare.csv").symlink_to(victim)
    else:
        os.link(victim, out / "values.csv")
    err = one_clean_line(capsys, ["compare", f"lts-gpt2:{tiny_lts}", "--proxies", "params", "--no-plots", "--jobs",
                                  "1", "-o", str(out)])
    assert ("symbolic link" in err or "hard link" in err) and victim.read_text() == "precious"


# --- 6-8, 11. bounded readers -------------------------------------------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def test_a_yaml_alias_bomb_is_one_line_at_once(tmp_path, capsys, tiny_lts):
    (tiny_lts / "ppl_summary.yaml").write_text(BOMB)
    start = time.perf_counter()
    err = one_clean_line(capsys, ["score", f"lts-gpt2:{tiny_lts}", "--proxy", "params", "--jobs", "1"])
    assert "alias" in err and time.perf_counter() - start < 30
    folder = hf_folder(tmp_path / "hf", n=2)
    (folder / "benchmark.yaml").write_text(BOMB)
    assert "alias" in one_clean_line(capsys, ["score", f"hf:{folder}", "--proxy", "params", "--jobs", "1"])


@pytest.mark.parametrize("option", ["--ids", "--train-ids", "--text"])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_fifo_or_a_device_as_a_file_option_is_one_line(tmp_path, capsys, option, special):
    path = "/dev/zero" if special == "/dev/zero" else str(tmp_path / "fifo")
    if special == "fifo":
        os.mkfifo(path)
    verb = {"--ids": ["score", "nas-bench-bert", "--proxy", "params"],
            "--train-ids": ["search", "nas-bench-bert", "-o", str(tmp_path / "run")],
            "--text": ["compare", "nas-bench-bert", "--proxies", "snip"]}[option]
    err = one_clean_line(capsys, verb + [option, path])
    assert "not a regular file" in err


@pytest.mark.parametrize("change, message", [
    ({"hidden_size": 2**30}, "hidden_size is 1,073,741,824"), ({"intermediate_size": 10**7}, "intermediate_size"),
    ({"vocab_size": 10**9}, "vocab_size"), ({"num_hidden_layers": 10**6}, "num_hidden_layers"),
    ({"num_attention_heads": 5}, "do not divide the width"), ({"hidden_size": 0}, "must be from 1"),
    ({"hidden_size": -4}, "must be from 1"), ({"hidden_size": 32.5}, "whole number"),
    ({"hidden_size": "32"}, "whole number"), ({"num_hidden_layers": True}, "whole number"),
    ({"text_config": {"auto_map": {"AutoModel": "evil.Model"}}}, "text_config.auto_map names code"),
    ({"encoder": {"decoder": {"auto_map": "x"}}}, "encoder.decoder.auto_map names code"),
    ({"vocab_size": 9_000_000, "hidden_size": 4096, "num_attention_heads": 32}, "GiB of weights"),
])
def test_hf_configs_are_bounded_before_any_allocation(tmp_path, capsys, change, message):
    folder = hf_folder(tmp_path / "hf", n=2, extra=change)
    err = one_clean_line(capsys, ["score", f"hf:{folder}", "--proxy", "params", "--jobs", "1"])
    assert message in err


def test_a_values_file_that_expands_past_the_limit_is_one_line(tmp_path, monkeypatch, capsys):
    import discover.values
    monkeypatch.setattr(discover.values, "MAX_EXPANDED_BYTES", 1 << 20)
    path = tmp_path / "values.csv.gz"
    path.write_bytes(gzip.compress(b"arch_id,proxy,value\n" + b"0,snip,1.0\n" * 400_000))
    (tmp_path / "values.json").write_text("{}")
    err = one_clean_line(capsys, ["compare", "nas-bench-bert", "--proxies", "snip", "--values", str(path)])
    assert "expands past" in err


# --- 9. a resume reads only what its own run wrote ----------------------------------------------------------------

def test_resume_refuses_another_runs_stage(tmp_path, finished):
    other = tmp_path / "other"
    search_tables({"toy": synthetic()}, other, SearchConfig(population=30, generations=3, seed=6), folds=2,
                  progress=False)
    (finished / "stages" / "final.json").write_bytes((other / "stages" / "final.json").read_bytes())
    with pytest.raises(RunFolderError, match="written by another run"):
        search_tables({"toy": synthetic()}, finished, SMALL, folds=2, resume=True, progress=False)


def test_resume_refuses_another_runs_checkpoint(tmp_path, finished):
    other = tmp_path / "other"
    search_tables({"toy": synthetic()}, other, SearchConfig(population=30, generations=3, seed=6), folds=2,
                  progress=False)
    (finished / "stages" / "final.json").unlink()
    (finished / "checkpoints" / "final.json").write_bytes((other / "checkpoints" / "final.json").read_bytes())
    with pytest.raises(ZcDiscoverError, match="another run"):
        search_tables({"toy": synthetic()}, finished, SMALL, folds=2, resume=True, progress=False)


@pytest.mark.parametrize("key, value, message", [
    ("benchmark_checksums", {"toy": "0" * 64}, "benchmarks' files"), ("features", 3, "features searched"),
    ("versions", {"code": "0" * 16}, "the code")])
def test_resume_refuses_a_run_whose_benchmark_code_or_features_changed(finished, key, value, message):
    config = json.loads((finished / "config.json").read_text())
    config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (finished / "config.json").write_text(json.dumps(config))
    (finished / "stages" / "final.json").unlink()
    with pytest.raises(RunFolderError, match=message):
        search_tables({"toy": synthetic()}, finished, SMALL, folds=2, resume=True, progress=False,
                      checksums={"toy": "1" * 64} if key == "benchmark_checksums" else None)


def test_resume_refuses_a_changed_hf_results_table(tmp_path, capsys):
    folder = hf_folder(tmp_path / "hf", n=12)
    run = tmp_path / "run"
    assert main(search([f"hf:{folder}"], run)) == 0
    capsys.readouterr()
    (run / "stages" / "final.json").unlink()
    (folder / "results.csv").write_text((folder / "results.csv").read_text().replace("4.", "3.", 1))
    err = one_clean_line(capsys, ["search", "-o", str(run), "--resume", "--jobs", "1"])
    assert "benchmarks' files" in err


# --- 12. no traceback ---------------------------------------------------------------------------------------------

def test_an_output_name_longer_than_a_file_system_allows_is_one_line(tmp_path, capsys):
    err = one_clean_line(capsys, search(["nas-bench-bert"], tmp_path / ("x" * 300)))
    assert "over the 255" in err


def test_a_folder_where_a_stage_file_belongs_is_one_line(finished, capsys):
    (finished / "stages" / "final.json").unlink()
    (finished / "stages" / "final.json").mkdir()
    with pytest.raises(RunFolderError, match="is a folder where a search keeps its files"):
        search_tables({"toy": synthetic()}, finished, SMALL, folds=2, resume=True, progress=False)


def test_a_cache_entry_that_is_a_folder_is_recomputed(tmp_path, monkeypatch, caplog):
    from discover import cache, featurize, load_benchmark
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', [GPT2, {**GPT2, 'n_layer': 1}])}")
    first = featurize(bench, n_jobs=1)
    (path,) = list(cache.cache_dir().glob("features-*.parquet"))
    path.unlink()
    path.mkdir()
    with caplog.at_level("WARNING"):
        again = featurize(bench, n_jobs=1)
    assert "is a folder" in caplog.text and again.equals(first)


# --- 13-15. nothing wrong accepted silently -------------------------------------------------------------------------

def test_a_misspelled_builder_is_refused(tmp_path, capsys, flexibert):
    err = one_clean_line(capsys, search(["nas-bench-bert", "--builder", "legasy"], tmp_path / "run"))
    assert "Did you mean 'legacy'" in err


def test_transfer_to_the_searched_space_is_refused(tmp_path, capsys, flexibert):
    err = one_clean_line(capsys, search(["nas-bench-bert", "--transfer", "nas-bench-bert"], tmp_path / "run"))
    assert "in-sample" in err


def test_resume_and_force_together_are_refused(tmp_path, capsys):
    err = one_clean_line(capsys, search(["nas-bench-bert", "--resume", "--force"], tmp_path / "run"))
    assert "give one of them" in err


@pytest.mark.parametrize("field, value", [("population", "30"), ("seed", True), ("with_activations", "no"),
                                          ("folds", 2.0)])
def test_strict_schemas_do_not_coerce(finished, field, value):
    from discover.runs import load_run
    config = json.loads((finished / "config.json").read_text())
    config["arguments"][field] = value
    (finished / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunFolderError, match=f"field arguments.{field}"):
        load_run(finished)


def test_check_catches_what_fit_would_fail_on():
    with pytest.raises(UnknownNameError, match="GP operator '__import__'"):
        ProxySearch(operators=["__import__"]).check()
    with pytest.raises(ConfigError, match="init_seed must be an integer"):
        ProxySearch(init_seed=-5).check()
    with pytest.raises(ConfigError, match="population must be an integer"):
        ProxySearch(population=True).check()


# --- 16. the same seed, the same result, on every backend --------------------------------------------------------

@pytest.mark.slow
def test_dask_searches_equal_local_ones(tmp_path, flexibert):
    pytest.importorskip("distributed")
    from discover import engine
    results = []
    for index, backend in enumerate(["dask", "dask", "loky"]):
        with engine(backend, None, 2):
            found = ProxySearch(population=200, generations=25, jobs=2, output=tmp_path / f"r{index}").fit(flexibert)
        results.append((found.metrics_["evaluations"], found.equations_.to_csv(index=False)))
    assert results[0] == results[1] == results[2]


def test_values_files_with_a_missing_digest_are_refused(tmp_path):
    from discover.values import read_values
    (tmp_path / "values.csv").write_text("arch_id,proxy,value\na,snip,1\n")
    (tmp_path / "values.json").write_text("{}")
    with pytest.raises(DataError, match="records no digest"):
        read_values([tmp_path / "values.csv"])
