"""Hostile files and inputs (the campaign of issue #23, case by case): no write outside a run folder, no hang, no
traceback, no label leak, nothing wrong accepted silently. Every bad input is one line and exit status 2."""
import json
import os
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from discover import schemas
from discover.cli import main
from discover.errors import DataError, ZcDiscoverError
from discover.files import parse_json, read_json, read_yaml
from discover.formula import Formula, FormulaError
from discover.runs import load_run
from discover.search import search_tables
from discover.search.loop import SearchConfig
from tests.test_faults import one_clean_line
from tests.test_loaders import GPT2, lts_folder
from tests.test_search import synthetic

SMALL = SearchConfig(population=30, generations=4, seed=5)


@pytest.fixture
def finished(tmp_path):
    search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, folds=2, progress=False)
    return tmp_path / "run"


def resume(folder, force=False):
    return search_tables({"toy": synthetic()}, folder, SMALL, folds=2, resume=not force, force=force,
                         progress=False)


@pytest.fixture
def tiny_lts(tmp_path):
    return lts_folder(tmp_path / "space", [{**GPT2, "d_inner": [32 + 8 * i, 48]} for i in range(12)])


# --- no write outside a run folder -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["equations.csv", "logbook.csv", "front.png", "metrics.json"])
def test_a_run_file_linked_elsewhere_is_refused_and_the_target_untouched(finished, tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (finished / name).unlink()
    (finished / name).symlink_to(victim)
    (finished / "stages" / "final.json").unlink()
    with pytest.raises(ZcDiscoverError, match="symbolic link"):
        resume(finished)
    assert victim.read_text() == "precious"


def test_a_linked_checkpoints_folder_is_refused_and_nothing_written_there(finished, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for path in (finished / "checkpoints").iterdir():
        path.unlink()
    (finished / "checkpoints").rmdir()
    (finished / "checkpoints").symlink_to(elsewhere)
    (finished / "stages" / "final.json").unlink()
    with pytest.raises(ZcDiscoverError, match="symbolic link"):
        resume(finished)
    assert list(elsewhere.iterdir()) == []


def test_force_checks_the_whole_folder_before_deleting_anything(finished, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "keep").mkdir(parents=True)
    for path in (finished / "stages").iterdir():
        path.unlink()
    (finished / "stages").rmdir()
    (finished / "stages").symlink_to(elsewhere)
    before = sorted(p.name for p in finished.iterdir())
    with pytest.raises(ZcDiscoverError, match="symbolic link"):
        resume(finished, force=True)
    assert sorted(p.name for p in finished.iterdir()) == before and (elsewhere / "keep").is_dir()


# --- label leaks and out-of-range run files ---------------------------------------------------------------------

def test_a_run_folder_whose_formula_reads_the_target_is_refused(finished, capsys):
    metrics = json.loads((finished / "metrics.json").read_text())
    (finished / "metrics.json").write_text(json.dumps({**metrics, "formula": "target", "features": ["target"]}))
    with pytest.raises(ZcDiscoverError, match="target"):
        load_run(finished)
    assert "target" in one_clean_line(capsys, ["score", "nas-bench-bert", "--proxy", f"run:{finished}"])


@pytest.mark.parametrize("field, value", [("complexity", -5), ("seed", 1e308), ("seed", 2**40), ("train", "high"),
                                          ("heldout", []), ("front", {"a": 1}), ("ties", [1, 2])])
def test_a_stage_with_a_field_out_of_range_is_refused(finished, field, value):
    path = finished / "stages" / "fold0.json"
    stage = json.loads(path.read_text())
    path.write_text(json.dumps({**stage, field: value}))
    (finished / "stages" / "final.json").unlink()
    with pytest.raises(ZcDiscoverError, match=f"field {field}"):
        resume(finished)


@pytest.mark.parametrize("file, change", [
    ("metrics.json", {"heldout": []}), ("metrics.json", {"transfer": {"x": None}}),
    ("metrics.json", {"ties": {"formulas": "many"}}), ("metrics.json", {"features": "abc"}),
    ("config.json", {"versions": "1.0"}), ("config.json", {"arguments": []}),
    ("config.json", {"arguments": {"benchmarks": [None]}}), ("config.json", {"arguments": {"population": 10**9}}),
])
def test_wrong_types_in_run_files_are_one_line(finished, capsys, file, change):
    path = finished / file
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    err = one_clean_line(capsys, ["export", str(finished)])
    assert file in err and "field" in err


def test_a_lock_file_with_an_absurd_pid_is_taken_over(finished):
    (finished / ".lock").write_text(json.dumps({"pid": 10**30, "host": "h"}))
    (finished / "stages" / "final.json").unlink()
    assert resume(finished).formula is not None


def test_a_resumed_tree_with_an_absurd_constant_is_refused(finished):
    (finished / "stages" / "final.json").unlink()
    checkpoints = finished / "checkpoints" / "final.json"
    if not checkpoints.exists():
        pytest.skip("no checkpoint left by this search")
    state = json.loads(checkpoints.read_text())
    state["population"][0][0] = "balance(sum_ffn_capacity, flops, 1e308)"
    checkpoints.write_text(json.dumps(state))
    with pytest.raises(ZcDiscoverError, match="not of this search|damaged or foreign"):
        resume(finished)


# --- no hang ----------------------------------------------------------------------------------------------------

def test_a_fifo_in_place_of_metrics_does_not_block(finished, capsys):
    (finished / "metrics.json").unlink()
    os.mkfifo(finished / "metrics.json")
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("err", one_clean_line(capsys, ["export",
                                                                                                str(finished)])))
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "export blocked on a FIFO"
    assert "FIFO" in result["err"]


def test_metrics_linked_to_dev_zero_is_refused_unread(finished, capsys):
    (finished / "metrics.json").unlink()
    (finished / "metrics.json").symlink_to("/dev/zero")
    assert "symbolic link" in one_clean_line(capsys, ["export", str(finished)])


@pytest.mark.parametrize("formula", ["exp(exp(exp(10.0)))", "1" + "0" * 400, "n_layers * 1e400",
                                     "exp(exp(n_layers * 0 + 20.0))"])
def test_explosive_formulas_are_refused_at_parse(formula, capsys):
    with pytest.raises(FormulaError):
        Formula.from_string(formula, ["n_layers"])
    assert "refused" in one_clean_line(capsys, ["score", "nas-bench-bert", "--formula", formula])


def test_explosive_formulas_in_a_run_folder_are_refused(finished):
    metrics = json.loads((finished / "metrics.json").read_text())
    (finished / "metrics.json").write_text(json.dumps({**metrics, "formula": "exp(exp(exp(10.0)))"}))
    with pytest.raises(ZcDiscoverError, match="refused"):
        load_run(finished)


@pytest.mark.parametrize("option, message", [(["--population", "1000000000"], "at most 100,000"),
                                             (["--generations", "10000000"], "at most 10,000"),
                                             (["--seed", "9" * 30], "is not an integer of at most")])
def test_huge_search_options_are_refused(capsys, tiny_lts, tmp_path, option, message):
    assert message in one_clean_line(capsys, ["search", f"lts-gpt2:{tiny_lts}", "-o", str(tmp_path / "r"), *option])


# --- outputs checked before any work -----------------------------------------------------------------------------

@pytest.mark.parametrize("verb", [["featurize"], ["probe"], ["compare", "--proxies", "params"], ["search"]])
@pytest.mark.parametrize("where", ["/proc/zc/out", "/sys/zc/out", "FILE/out"])
def test_unwritable_outputs_are_refused_before_any_work(capsys, tiny_lts, tmp_path, monkeypatch, verb, where):
    import discover.benchmarks
    (tmp_path / "FILE").write_text("a file")
    out = where.replace("FILE", str(tmp_path / "FILE"))
    suffix = {"featurize": ".csv", "probe": ".csv.gz"}.get(verb[0], "")
    monkeypatch.setattr(discover.benchmarks, "load_benchmark", lambda *a, **k: pytest.fail("loaded before refusing"))
    err = one_clean_line(capsys, [verb[0], f"lts-gpt2:{tiny_lts}", *verb[1:], "-o", out + suffix])
    assert "virtual file system" in err or "which is a file" in err


def test_a_missing_run_folder_is_refused_before_featurizing(capsys, monkeypatch):
    import discover.api
    monkeypatch.setattr(discover.api, "featurize", lambda *a, **k: pytest.fail("featurized before refusing"))
    assert "is not a folder" in one_clean_line(capsys, ["score", "nas-bench-bert", "--proxy", "run:/nonexistent"])


# --- silent acceptance --------------------------------------------------------------------------------------------

def test_the_same_space_twice_is_refused(capsys, tiny_lts, tmp_path):
    name = f"lts-gpt2:{tiny_lts}"
    assert "more than once" in one_clean_line(capsys, ["search", name, name, "-o", str(tmp_path / "r")])


def test_jobs_beyond_the_cores_are_capped_with_a_warning(caplog):
    from discover.parallel import resolve_jobs
    assert resolve_jobs(100_000) == os.cpu_count()
    assert "more than this machine's" in caplog.text


def test_duplicate_keys_in_ppl_summary_are_refused(capsys, tiny_lts):
    path = tiny_lts / "ppl_summary.yaml"
    path.write_text(path.read_text() + "config_0_j0:\n  valid_ppl: 1.0\n")
    assert "appears twice" in one_clean_line(capsys, ["score", f"lts-gpt2:{tiny_lts}", "--proxy", "params"])


@pytest.mark.parametrize("value", [".nan", "abc", "[1, 2]", "-5"])
def test_a_bad_count_in_params_summary_is_one_line(capsys, tiny_lts, value):
    (tiny_lts / "params_summary.yaml").write_text(f"config_0_j0:\n  Attn: {value}\n")
    assert "params_summary.yaml" in one_clean_line(capsys, ["score", f"lts-gpt2:{tiny_lts}", "--proxy", "params"])


# --- hostile NAS-Bench-BERT files -----------------------------------------------------------------------------------

def record(hidden=128, **layer):
    base = {"operation_type": "SA", "operation_parameter": "SDP", "num_operation_heads": 2,
            "feed_forward_dimension": 256, "num_feed_forward": 1, **layer}
    return {"id": 0, "scores": {"glue": 0.7},
            "hparams": {"model_hparam_overrides": {"hidden_size": hidden, "nas_config": {"encoder_layers": [base]}}}}


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "deeper than 64"),
    (json.dumps([record()]).replace('"hidden_size": 128', '"hidden_size": ' + "1" * 5000), "digits"),
    (json.dumps([record(hidden=2**30)]), "at most"),
    (json.dumps([record(feed_forward_dimension=2**40)]), "at most"),
    ('[{"id": 0, "id": 1}]', "appears twice"),
    (json.dumps([record()]).replace("0.7", "1e999"), "out of range"),
])
def test_hostile_benchmark_json_is_one_line(capsys, tmp_path, text, message):
    (tmp_path / "nas-bench-bert").mkdir()
    (tmp_path / "nas-bench-bert" / "BERT_benchmark.json").write_text(text)
    err = one_clean_line(capsys, ["--data-dir", str(tmp_path), "score", "nas-bench-bert", "--proxy", "params"])
    assert message in err


# --- values files -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("meta, message", [("[]", "field"), ("[" * 1000 + "]" * 1000, "deeper than 64"),
                                           ('{"seed": 1e308}', "field seed")])
def test_hostile_values_provenance_is_one_line(capsys, tmp_path, meta, message):
    (tmp_path / "values.csv").write_text("arch_id,proxy,value,failure,seconds\n0,snip,1.0,,1\n")
    (tmp_path / "values.json").write_text(meta)
    assert message in one_clean_line(capsys, ["compare", "nas-bench-bert", "--proxies", "snip", "--values",
                                              str(tmp_path / "values.csv")])


def test_non_numeric_seconds_in_a_values_file_is_one_line(capsys, tmp_path):
    from tests.test_values import signed
    signed(tmp_path / "values.csv", "arch_id,proxy,value,failure,seconds\n0,snip,1.0,,soon\n")
    assert "seconds 'soon'" in one_clean_line(capsys, ["compare", "nas-bench-bert", "--proxies", "snip", "--values",
                                                       str(tmp_path / "values.csv")])


# --- any JSON or YAML shape: a DataError or a value, never anything else ------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children,
                                                                                      max_size=4), max_leaves=20)
SCHEMAS = [schemas.RunConfig, schemas.Metrics, schemas.Stage, schemas.Checkpoint, schemas.Lock,
           schemas.ValuesProvenance, schemas.LtsModelConfig, schemas.PerplexitySummary, schemas.ParameterSummaries,
           schemas.Sessions]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON, schema=st.sampled_from(SCHEMAS), kind=st.sampled_from(["json", "yaml"]))
@example(value={"\n": False}, schema=schemas.PerplexitySummary, kind="json")   # a key with a newline, found by CI
def test_any_json_or_yaml_shape_is_a_value_or_one_clean_error(tmp_path, value, schema, kind):
    path = tmp_path / f"file.{kind}"
    path.write_text(json.dumps(value) if kind == "json" else yaml.safe_dump(value))
    try:
        (read_json if kind == "json" else read_yaml)(path, "file", schema)
    except DataError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet='[]{}",:0123456789.eE-+ aNIfinty\\ntrue', max_size=60))
def test_any_json_text_is_a_value_or_a_value_error(text):
    try:
        parse_json(text)
    except ValueError:
        pass
