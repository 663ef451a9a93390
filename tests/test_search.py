"""The discovery loop on small synthetic tables: determinism, resume, run folder, export round trip, bad input."""
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from discover.search import loop as search_module
from discover.runs import load_run
from discover.search import search_tables
from discover.errors import DataError, ZcDiscoverError
from discover.export import render
from discover.formula import Formula
from discover.search.gp import TreeEvaluator, make_pset, parse_tree, tree_to_sympy
from discover.search.loop import SearchConfig, batch_correlation

SMALL = SearchConfig(population=40, generations=4, seed=3)


def synthetic(n=80, seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"arch_id": [f"a{i}" for i in range(n)], "n_params": rng.integers(1, 1000, n) * 1.0})
    for name in ("sum_ffn_capacity", "sum_attention_capacity", "max_ffn_logdet", "mean_head_eff_rank", "flops"):
        table[name] = rng.random(n) + 0.1
    table["target"] = np.log(table.sum_ffn_capacity) + 0.5 * table.sum_attention_capacity + 0.05 * rng.random(n)
    return table


def metrics_without_timing(run):
    metrics = dict(run.metrics)
    for key in ("search_seconds", "wall_seconds"):
        metrics.pop(key)
    return metrics


def test_finds_a_good_formula_and_writes_the_run_folder(tmp_path):
    run = search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, folds=3, n_jobs=1, progress=False)
    for name in ("config.json", "equations.csv", "metrics.json", "logbook.csv", "best_proxy.py", "best_proxy.tex",
                 "stages/fold0.json", "stages/final.json", "checkpoints/final.json", "front.png", "heldout.png"):
        assert (tmp_path / "run" / name).exists(), name
    held = run.metrics["heldout"]["toy"]
    assert held["folds"] == 3 and held["kendall"] > 0.5
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["arguments"]["seed"] == 3 and "deap" in config["versions"]
    logbook = pd.read_csv(tmp_path / "run" / "logbook.csv")
    assert {"stage", "generation", "evaluations", "invalid", "best_train", "best_validation"} <= set(logbook.columns)
    assert len(logbook) == 4 * SMALL.generations


@pytest.mark.parametrize("jobs", [2, 3])
def test_same_seed_same_result_for_any_jobs(tmp_path, jobs):
    one = search_tables({"toy": synthetic()}, tmp_path / "one", SMALL, folds=3, n_jobs=1, progress=False)
    many = search_tables({"toy": synthetic()}, tmp_path / "many", SMALL, folds=3, n_jobs=jobs, progress=False)
    assert metrics_without_timing(one) == metrics_without_timing(many)
    pd.testing.assert_frame_equal(one.equations, many.equations)


def test_resume_after_interruption_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    reference = search_tables({"toy": synthetic()}, tmp_path / "ref", SMALL, folds=2, progress=False)
    real = search_module.write_checkpoint

    def interrupt_midway(path, stage, config, generation, *args):
        real(path, stage, config, generation, *args)
        if stage == "fold1" and generation == 2:
            raise KeyboardInterrupt  # as Ctrl-C (or a kill) right after a checkpoint

    monkeypatch.setattr(search_module, "write_checkpoint", interrupt_midway)
    with pytest.raises(KeyboardInterrupt):
        search_tables({"toy": synthetic()}, tmp_path / "cut", SMALL, folds=2, progress=False)
    monkeypatch.setattr(search_module, "write_checkpoint", real)
    assert (tmp_path / "cut" / "stages" / "fold0.json").exists()
    assert not (tmp_path / "cut" / "stages" / "fold1.json").exists()
    with pytest.raises(ZcDiscoverError, match="already exists.*--resume"):
        search_tables({"toy": synthetic()}, tmp_path / "cut", SMALL, folds=2, progress=False)
    resumed = search_tables({"toy": synthetic()}, tmp_path / "cut", SMALL, folds=2, resume=True, progress=False)
    assert metrics_without_timing(resumed) == metrics_without_timing(reference)   # evaluation counts included
    pd.testing.assert_frame_equal(resumed.equations, reference.equations)


def test_resume_refuses_other_arguments_and_corrupt_checkpoints(tmp_path):
    search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, folds=2, progress=False)
    other = SearchConfig(population=40, generations=5, seed=3)
    with pytest.raises(ZcDiscoverError, match="other arguments.*generations"):
        search_tables({"toy": synthetic()}, tmp_path / "run", other, folds=2, resume=True, progress=False)
    (tmp_path / "run" / "stages" / "final.json").unlink()
    (tmp_path / "run" / "checkpoints" / "final.json").write_bytes(b"not json")
    with pytest.raises(ZcDiscoverError, match="final.json is damaged or foreign.*Delete it"):
        search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, folds=2, resume=True, progress=False)
    assert (tmp_path / "run" / "stages" / "fold0.json").exists()  # finished work is kept


def test_bad_input(tmp_path):
    with pytest.raises(DataError, match="too many"):
        search_tables({"toy": synthetic(n=20)}, tmp_path / "a", SMALL, folds=10, progress=False)
    with pytest.raises(DataError, match="not architectures of toy: nope"):
        search_tables({"toy": synthetic()}, tmp_path / "b", SMALL, train_ids=["a1", "nope"], progress=False)


def test_train_ids_report_on_the_complement(tmp_path):
    ids = [f"a{i}" for i in range(0, 80, 2)]
    run = search_tables({"toy": synthetic()}, tmp_path / "run", SMALL, train_ids=ids, progress=False)
    assert run.metrics["heldout"]["toy"]["n"] == 40


def test_search_across_two_benchmarks_and_transfer(tmp_path):
    tables = {"a": synthetic(seed=1), "b": synthetic(seed=2)}
    run = search_tables(tables, tmp_path / "run", SMALL, folds=2, transfer={"c": synthetic(seed=3)},
                        progress=False)
    assert set(run.metrics["heldout"]) == {"a", "b"}
    assert run.metrics["transfer"]["c"]["kendall"] > 0.3


def test_tree_sympy_export_and_formula_agree(tmp_path):
    table = synthetic()
    run = search_tables({"toy": table}, tmp_path / "run", SMALL, folds=2, progress=False)
    features = [c for c in table.columns if c not in ("arch_id", "target")]
    pset = make_pset(features)
    tree = parse_tree(run.metrics["tree"], pset)
    tree_scores = TreeEvaluator({f: table[f].to_numpy(float) for f in features})(tree)
    sympy_scores = Formula(tree_to_sympy(tree)).evaluate(table)
    loaded = load_run(tmp_path / "run")
    reparsed = Formula.from_string(render(loaded.formula, "sympy", {}), features).evaluate(table)
    spec = importlib.util.spec_from_file_location("best_proxy", tmp_path / "run" / "best_proxy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported = np.asarray(module.score_features(table), dtype=float)
    for scores in (sympy_scores, reparsed, exported):
        np.testing.assert_allclose(scores, tree_scores, rtol=1e-9)
    row = table.iloc[5]
    assert float(module.score_features(row)) == pytest.approx(tree_scores[5])


def test_every_operator_agrees_between_numpy_and_sympy():
    from primitives.operators import GP_OPERATORS
    table = synthetic()
    features = ["sum_ffn_capacity", "flops"]
    pset = make_pset(features, tuple(GP_OPERATORS))
    shifted = table.assign(sum_ffn_capacity=table.sum_ffn_capacity - 0.3, flops=table.flops - 0.3)  # signs vary
    evaluator = TreeEvaluator({f: shifted[f].to_numpy(float) for f in features})
    for name, op in GP_OPERATORS.items():
        vectors = features[: sum(a == "vec" for a in op.args)]
        text = f"{name}({', '.join(vectors + (['0.65'] if 'weight' in op.args else []))})"
        tree = parse_tree(text, pset)
        np.testing.assert_allclose(Formula(tree_to_sympy(tree)).evaluate(shifted), evaluator(tree), rtol=1e-12,
                                   err_msg=name)


def test_batch_spearman_matches_scipy():
    from scipy import stats
    rng = np.random.default_rng(0)
    values, target = rng.random((7, 30)), rng.random(30)
    values[0, :10] = 0.5  # ties
    expected = [stats.spearmanr(v, target).statistic for v in values]
    np.testing.assert_allclose(batch_correlation(values, target, "spearman"), expected)


def test_targets_kept_beside_the_target_are_never_searched_features():
    # a robustness space's table carries every other target as target:<name> for reporting; a search that read
    # one would rank by the label itself
    from discover.search.plan import search_features
    table = pd.DataFrame({"arch_id": list("abcd"), "target": [1.0, 2, 3, 4], "target:dev_accuracy": [1.0, 2, 3, 4],
                          "n_params": [4.0, 3, 2, 1], "constant": 1.0})
    features, dropped = search_features({"space": table})
    assert features == ["n_params"] and dropped == {"constant": "constant on every space"}
