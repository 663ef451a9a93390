"""Fault injection: crafted run folders, damaged caches, killed searches and bad input never run code, never give
wrong numbers silently, and never end in a traceback."""
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discover import cache
from discover.cli import main
from discover.errors import ZcDiscoverError
from discover.formula import Formula, FormulaError
from discover.runs import RunLock, load_run
from discover.search import search_tables
from discover.search.loop import SearchConfig
from tests.test_loaders import GPT2, lts_folder
from tests.test_search import metrics_without_timing, synthetic

SMALL = SearchConfig(population=30, generations=4, seed=5)
ROOT = Path(__file__).resolve().parents[1]


class Payload:
    """A pickle that would create a marker file if it were ever unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def finished(tmp_path):
    """A finished two-fold search and the marker file crafted inputs would create."""
    search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, folds=2, progress=False)
    return tmp_path / "run", tmp_path / "pwned"


def resume(folder):
    return search_tables({"toy": synthetic()}, folder, SMALL, folds=2, resume=True, progress=False)


def checkpoint_of(folder):
    """A real mid-search checkpoint of the final stage (from an interrupted copy of the search)."""
    (folder / "stages" / "final.json").unlink()
    return folder / "checkpoints" / "final.json"


CRAFTED_TREES = ["__import__('os').system('touch {marker}')", "add(sum_ffn_capacity, 1/0)", "9**9**9**9",
                 "flops.__class__", "lambda: 0", "add(" * 200 + "flops" + ")" * 200, "unknown_feature"]


def test_a_pickled_checkpoint_is_refused_without_being_unpickled(finished):
    folder, marker = finished
    path = checkpoint_of(folder)
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ZcDiscoverError, match="damaged or foreign.*nothing in it was run"):
        resume(folder)
    assert not marker.exists()


@pytest.mark.parametrize("tree", CRAFTED_TREES)
def test_crafted_trees_in_a_checkpoint_are_refused(finished, tree):
    folder, marker = finished
    path = checkpoint_of(folder)
    state = json.loads(path.read_text())
    state["population"][0][0] = tree.format(marker=marker)
    path.write_text(json.dumps(state))
    start = time.perf_counter()
    with pytest.raises(ZcDiscoverError, match="not of this search|damaged or foreign"):
        resume(folder)
    assert not marker.exists() and time.perf_counter() - start < 30


@pytest.mark.parametrize("field, value", [("random_state", [3, [1, 2], None]), ("generation", 99),
                                          ("logbook", [{"stage": "final"}]), ("seen", [1, 2]), ("format", "x"),
                                          ("evaluations", -1), ("front", [["flops", ["a", 1]]])])
def test_malformed_checkpoint_fields_are_refused(finished, field, value):
    folder, _ = finished
    path = checkpoint_of(folder)
    state = json.loads(path.read_text())
    state[field] = value
    path.write_text(json.dumps(state))
    with pytest.raises(ZcDiscoverError, match="damaged or foreign"):
        resume(folder)


@pytest.mark.parametrize("tree", CRAFTED_TREES)
def test_crafted_stage_results_are_refused(finished, tree):
    folder, marker = finished
    path = folder / "stages" / "fold0.json"
    stage = json.loads(path.read_text())
    stage["formula_tree"] = tree.format(marker=marker)
    path.write_text(json.dumps(stage))
    with pytest.raises(ZcDiscoverError, match="not of this search|nothing in it was run"):
        resume(folder)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["stages/fold0.json", "config.json", "checkpoints/final.json"])
def test_truncated_run_files_are_one_clear_error(finished, name):
    folder, _ = finished
    if name.startswith("checkpoints"):
        checkpoint_of(folder)
    path = folder / name
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.raises(ZcDiscoverError, match="damaged"):
        resume(folder)


@pytest.mark.parametrize("formula", ["__import__('os').system('touch {marker}')", "flops.real", "open('x')"])
def test_a_crafted_formula_in_metrics_is_refused_on_load(finished, formula):
    folder, marker = finished
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["formula"] = formula.format(marker=marker)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ZcDiscoverError, match="refused"):
        load_run(folder)
    assert not marker.exists()


def test_a_run_folder_is_owned_by_one_process(tmp_path):
    folder = tmp_path / "run"
    with RunLock(folder):
        child = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            from discover.runs import RunLock
            from discover.errors import ZcDiscoverError
            try:
                RunLock({str(folder)!r}).acquire()
            except ZcDiscoverError as exc:
                print(exc)
            """)], capture_output=True, text=True, check=True)
        assert "in use by process" in child.stdout
    # a lock left by a dead process is taken over with a warning
    (folder / ".lock").write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename}))
    with RunLock(folder):
        assert json.loads((folder / ".lock").read_text())["pid"] == os.getpid()
    assert not (folder / ".lock").exists()


# --- damaged caches -------------------------------------------------------------------------------------------

def flip_every(path: Path, step: int = 4096):
    original = path.read_bytes()
    for offset in range(0, len(original), step):
        damaged = bytearray(original)
        damaged[offset] ^= 0x5A
        path.write_bytes(bytes(damaged))
        yield offset
    path.write_bytes(original)


def test_byte_flips_in_a_feature_table_never_give_silent_wrong_values(tmp_path):
    table = synthetic(n=400)
    path = cache.write_table(table, tmp_path / "features.parquet")
    ids = table["arch_id"].tolist()
    tried = silent = 0
    for _ in flip_every(path, step=512):
        read = cache.read_table(path, ids, list(table.columns))
        tried += 1
        if read is not None and not read.equals(table):
            silent += 1
    assert tried >= 20 and silent == 0


@pytest.mark.slow
def test_byte_flips_every_kib_of_the_nas_bench_bert_feature_table(tables, tmp_path):
    _, table = tables("nas-bench-bert")
    path = cache.write_table(table, tmp_path / "features.parquet")
    ids = table["arch_id"].astype(str).tolist()
    reference = cache.read_table(path, ids, list(table.columns))
    tried = silent = detected = 0
    for _ in flip_every(path, step=1024):
        read = cache.read_table(path, ids, list(table.columns))
        tried += 1
        detected += read is None
        silent += read is not None and not read.equals(reference)
    print(f"byte flips tried: {tried} (every KiB of {path.stat().st_size} bytes); detected {detected}; "
          f"silent wrong results: {silent}")
    assert tried >= 200 and silent == 0


def test_byte_flips_in_a_probe_record_are_detected(tmp_path):
    store = cache.RecordStore(tmp_path / "probe")
    record = {"snip": {"version": 1, "value": 1.25, "error": None, "seconds": 0.5}}
    store.write("a/b", record)
    (path,) = list((tmp_path / "probe").glob("*.json"))
    for _ in flip_every(path, step=7):
        read = store.read("a/b")
        assert read is None or read == record



def test_measure_all_resumes_from_the_records_it_wrote(tmp_path):
    """A loop stopped part-way measures only what it had not stored; a record of another key is measured again."""
    calls = []

    def measure(arch_id):
        calls.append(arch_id)
        if arch_id == "c" and len(calls) == 3:
            raise KeyboardInterrupt     # the first run is stopped while measuring "c"
        return {"value": float(ord(arch_id))}

    store = cache.RecordStore(tmp_path / "space", {"weights": "x"})
    with pytest.raises(KeyboardInterrupt):
        store.measure_all("abcd", measure)
    assert calls == ["a", "b", "c"]
    assert store.measure_all("abcd", measure) == [(i, {"value": float(ord(i))}) for i in "abcd"]
    assert calls[3:] == ["c", "d"]
    other = cache.RecordStore(tmp_path / "space", {"weights": "y"})
    other.measure_all("ab", measure)
    assert calls[5:] == ["a", "b"]

# --- kill -9 and resume -----------------------------------------------------------------------------------------

SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from discover.search import search_tables
from discover.search.loop import SearchConfig
from tests.test_search import synthetic
search_tables({{"toy": synthetic()}}, {folder!r}, SearchConfig(population=300, generations=6, seed=5), folds=2,
              n_jobs={jobs}, resume={resume}, progress=False)
"""


def generation_of(path: Path) -> int:
    try:
        return json.loads(path.read_text())["generation"]
    except (OSError, ValueError, KeyError):
        return -1


@pytest.mark.slow
@pytest.mark.parametrize("jobs, stage, generation", [(1, "fold0", 2), (1, "fold1", 4), (1, "final", 1),
                                                     (2, "fold1", 3), (2, "final", 2)])
def test_kill_9_then_resume_ends_as_an_uninterrupted_search(tmp_path, jobs, stage, generation):
    # population 300: about 18 ms a generation, so the kill lands inside the stage it aims at (with 30, a generation
    # took 3 ms and a loaded machine let the search finish before the kill arrived)
    config = SearchConfig(population=300, generations=6, seed=5)
    reference = search_tables({"toy": synthetic()}, tmp_path / "ref", config, folds=2, progress=False)
    folder = tmp_path / "cut"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", SCRIPT.format(root=str(ROOT), folder=str(folder), jobs=jobs,
                                                                   resume=False)], env=env)
    target = folder / "checkpoints" / f"{stage}.json"
    deadline = time.time() + 120
    while generation_of(target) < generation and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (folder / "stages" / "final.json").exists() or stage != "final"
    # workers of a killed search stop instead of writing on into its folder
    time.sleep(1.5)
    before = {p: p.stat().st_mtime_ns for p in (folder / "checkpoints").glob("*.json")}
    time.sleep(1.5)
    assert before == {p: p.stat().st_mtime_ns for p in (folder / "checkpoints").glob("*.json")}
    resumed = search_tables({"toy": synthetic()}, folder, config, folds=2, resume=True, n_jobs=jobs, progress=False)
    assert metrics_without_timing(resumed) == metrics_without_timing(reference)
    pd.testing.assert_frame_equal(resumed.equations, reference.equations)


# --- bad input on the command line ------------------------------------------------------------------------------

@pytest.fixture
def tiny_lts(tmp_path):
    configs = [{**GPT2, "d_inner": [32 + 8 * i, 48]} for i in range(12)]
    return lts_folder(tmp_path / "space", configs)


def one_clean_line(capsys, argv) -> str:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, (argv, err)
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    return err


@pytest.mark.parametrize("extra, message", [
    (["--population", "0"], "--population must be at least 2"), (["--jobs", "0"], "--jobs must be at least 1"),
    (["--jobs", "-5"], "--jobs must be at least 1"), (["--folds", "0"], "at least 1"), (["--folds", "-3"], "at least"),
    (["--generations", "-1"], "at least 0"), (["--seed", "-1"], "at least 0"), (["--population", "x"], "not an integer"),
    (["--aggregate", "median"], "invalid choice"), (["--device", "gpu"], "device must be"),
])
def test_out_of_range_search_options(capsys, tiny_lts, tmp_path, extra, message):
    err = one_clean_line(capsys, ["search", f"lts-gpt2:{tiny_lts}", "-o", str(tmp_path / "run"), *extra])
    assert message in err


@pytest.mark.parametrize("argv, message", [
    (["compare", "nas-bench-bert", "--limit", "0"], "at least 1"), (["compare", "nas-bench-bert", "--batch", "0"],
                                                                     "at least 1"),
    (["compare", "nas-bench-bert", "--seq", "1"], "at least 2"), (["score", "nas-bench-bert", "--proxy", "zerolm",
                                                                   "--jobs", "0"], "at least 1"),
    (["score", "nas-bench-bert", "--formula=" + "-" * 3990 + "n_layers"], "nested"),
    (["score", "nas-bench-bert", "--formula", "__import__('os')"], "refused"),
    (["score", "nas-bench-bert", "--proxy", "zerolmm"], "Did you mean 'zerolm'"),
    (["featurize", "nas-bench-bert", "-o", "table.txt"], "must end in .parquet or .csv"),
    (["export", "/nonexistent/run"], "is not a folder"),
    (["compare", "nas-bench-bert", "--text", "/nonexistent/words.txt"], "(probe text (--text)): does not exist"),
    (["compare", "nas-bench-bert", "--values", "/nonexistent/values.csv"], "(values file): does not exist"),
])
def test_bad_input_is_one_line_before_any_work(capsys, argv, message):
    assert message in one_clean_line(capsys, argv)


def test_output_that_is_a_file(capsys, tiny_lts, tmp_path):
    (tmp_path / "file").write_text("x")
    assert "is a file" in one_clean_line(capsys, ["search", f"lts-gpt2:{tiny_lts}", "-o", str(tmp_path / "file")])


def test_damaged_files_of_a_run_on_resume(capsys, tiny_lts, tmp_path):
    run = tmp_path / "run"
    assert main(["-q", "search", f"lts-gpt2:{tiny_lts}", "-o", str(run), "--folds", "2", "--population", "20",
                 "--generations", "2", "--jobs", "1"]) == 0
    capsys.readouterr()
    (run / "stages" / "fold0.json").write_text('{"stage": "fold0", "formula_tr')
    (run / "stages" / "final.json").unlink()
    args = ["search", f"lts-gpt2:{tiny_lts}", "-o", str(run), "--folds", "2", "--population", "20",
            "--generations", "2", "--jobs", "1", "--resume"]
    assert "fold0.json" in one_clean_line(capsys, args)
    (run / "config.json").write_text("{")
    assert "config.json" in one_clean_line(capsys, args)


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "ppl_summary.yaml").unlink(), "ppl_summary.yaml is missing"),
    (lambda f: (f / "config_0" / "j0" / "model_config.yaml").write_text("n_layer: [1,"), "not valid YAML"),
    (lambda f: (f / "config_0" / "j0" / "model_config.yaml").write_text(yaml.safe_dump({"n_layer": 2})),
     "missing field"),
    (lambda f: [p.unlink() for p in f.rglob("model_config.yaml")], "no architectures"),
])
def test_damaged_benchmark_folders(capsys, tiny_lts, damage, message):
    damage(tiny_lts)
    assert message in one_clean_line(capsys, ["score", f"lts-gpt2:{tiny_lts}", "--proxy", "params"])


def test_unknown_family_and_empty_benchmark_json(capsys, tiny_lts, tmp_path):
    assert "lts-gpt2:" in one_clean_line(capsys, ["score", f"lts:{tiny_lts}", "--proxy", "params"])
    (tmp_path / "nas-bench-bert").mkdir()
    (tmp_path / "nas-bench-bert" / "BERT_benchmark.json").write_text("[]")
    assert "no architecture records" in one_clean_line(
        capsys, ["--data-dir", str(tmp_path), "score", "nas-bench-bert", "--proxy", "params"])


def test_options_before_the_verb_are_honoured(capsys, tmp_path):
    # --data-dir before the verb is not reset by the verb's own copy of the option
    assert "is not at" in one_clean_line(capsys, ["--data-dir", str(tmp_path), "--offline", "score",
                                                  "nas-bench-bert", "--proxy", "params"])


def test_formulas_with_undefined_values_report_a_reason_not_a_traceback(capsys, tiny_lts):
    for formula in ("log(-1)", "n_layers/0", "log(-1) * n_layers"):
        assert main(["score", f"lts-gpt2:{tiny_lts}", "--formula", formula, "--json", "--jobs", "1", "-q"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["kendall"] is None and result["reason"]


# --- fuzzing the formula parser and evaluator ---------------------------------------------------------------

FEATURES = ["flops", "n_layers", "sum_ffn_capacity"]
TABLE = pd.DataFrame({"flops": [1.0, -2.0, 0.0, 3.5], "n_layers": [1.0, 2.0, 3.0, 4.0],
                      "sum_ffn_capacity": [0.0, 1e-300, 1e300, -1.0]})
TOKENS = st.sampled_from(FEATURES + ["(", ")", "+", "-", "*", "/", "**", ",", "0", "1", "2.5", "1e308", "log",
                                     "sqrt", "exp", "abs", "tanh", "min", "max", "log1p", "__import__", "'os'",
                                     ".", "[", "]", "lambda", ":", "x", "open", "=", ";", " "])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=30).map(" ".join))
def test_random_token_strings_never_raise_anything_but_a_clean_error(text):
    try:
        formula = Formula.from_string(text, FEATURES)
    except (FormulaError, ZcDiscoverError):
        return
    values, reason = formula.evaluate_with_reason(TABLE)
    assert values.shape == (4,) and (reason is None) == bool(np.isfinite(values).all())
    formula.latex()
    formula.to_python()


def trees():
    leaf = st.sampled_from(FEATURES + ["0", "1", "-1", "0.5", "1e300"])
    return st.recursive(leaf, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["log", "sqrt", "exp", "abs", "tanh", "log1p"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(inner, st.sampled_from(["2", "0.5", "-1", "3"])).map(lambda t: f"({t[0]}) ** {t[1]}")),
        max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_random_well_formed_trees_always_evaluate(text):
    try:
        formula = Formula.from_string(text, FEATURES)
    except FormulaError:   # e.g. a constant part beyond 1e300
        return
    values, reason = formula.evaluate_with_reason(TABLE)
    assert values.shape == (4,)
    assert (reason is None) == bool(np.isfinite(values).all())
