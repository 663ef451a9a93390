import math

import pandas as pd
import pytest

from discover.cli import main
from discover.errors import ZcDiscoverError


def test_benchmarks_lists_both_shipped_with_sizes(capsys, data_dir):
    assert main(["benchmarks", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "nas-bench-bert" in out and "lts-gpt2-wt103" in out
    benchmarks, pruning = out.split("\n\n", 1)   # the published benchmarks, then the stored pruning spaces
    lines = {line.split()[0]: line for line in benchmarks.splitlines()[1:]}
    assert "pruning:llama-8-depth" in pruning and "162 sub-networks" in pruning
    assert " 500 " in lines["nas-bench-bert"] and "present" in lines["nas-bench-bert"]
    assert " 200 " in lines["lts-gpt2-wt103"] and "present" in lines["lts-gpt2-wt103"]


def test_misspelled_verb_suggests(capsys):
    assert main(["benchmark"]) == 2
    assert "Did you mean 'benchmarks'" in capsys.readouterr().err


def test_unknown_benchmark_is_a_clean_error(capsys):
    assert main(["featurize", "flexibrt", "-o", "x.csv"]) == 2
    assert "Did you mean 'flexibert'" in capsys.readouterr().err


def test_featurize_writes_one_row_per_arch(tmp_path):
    from tests.test_loaders import GPT2, lts_folder
    folder = lts_folder(tmp_path / "lts", [GPT2, {**GPT2, "div_val": 1}])
    out = tmp_path / "table.csv"
    assert main(["featurize", f"lts-gpt2:{folder}", "-o", str(out), "-q"]) == 0
    table = pd.read_csv(out)
    assert list(table["arch_id"]) == ["config_0_j0", "config_1_j0"]
    assert {"arch_id", "target", "n_params", "params_attention", "params_ffn"} <= set(table.columns)
    assert (table["target"] == [-30.0, -31.0]).all()


def test_python_dash_m_entry_point():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "discover", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("zc-discover ")


def test_score_json_has_the_contract_keys(capsys, tables, data_dir):
    import json
    tables("nas-bench-bert", "legacy")  # features cached for this session
    assert main(["score", "flexibert", "--proxy", "params", "--builder", "legacy", "--json", "-q",
                 "--data-dir", str(data_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"benchmark", "proxy", "n", "spearman", "kendall", "kendall_iso_params"} <= set(result)
    assert result["benchmark"] == "nas-bench-bert" and result["n"] == 500


def test_score_formula_with_ids_file(capsys, tables, data_dir, tmp_path):
    import json
    tables("nas-bench-bert")
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(str(i) for i in range(100)) + "\n")
    assert main(["score", "nas-bench-bert", "--formula", "sum_ffn_logdet_xavier + sum_attention_logdet_xavier",
                 "--ids", str(ids), "--json", "-q", "--data-dir", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 100


def test_compare_writes_csv_and_markdown(capsys, tables, data_dir, tmp_path):
    tables("nas-bench-bert")
    assert main(["compare", "nas-bench-bert", "--proxies", "params", "zerolm", "nsc", "-o", str(tmp_path), "-q",
                 "--data-dir", str(data_dir)]) == 0
    table = pd.read_csv(tmp_path / "compare.csv")
    assert list(table["proxy"])[0] in {"zerolm", "nsc"} and len(table) == 3
    assert "| zerolm" in (tmp_path / "compare.md").read_text()


def test_hostile_formula_is_refused_on_the_command_line(capsys, tables, data_dir):
    tables("nas-bench-bert")
    assert main(["score", "nas-bench-bert", "--formula", "__import__('os').system('echo pwned')", "-q",
                 "--data-dir", str(data_dir)]) == 2
    captured = capsys.readouterr()
    assert "formula refused" in captured.err and "pwned" not in captured.out


def test_search_export_score_round_trip(capsys, tables, data_dir, tmp_path):
    """The exported formula, fed back to 'score --formula', gives the run's own numbers on the same architectures."""
    import json
    tables("nas-bench-bert")
    run = tmp_path / "run"
    common = ["--data-dir", str(data_dir), "-q"]
    assert main(["search", "nas-bench-bert", "-o", str(run), "--population", "40", "--generations", "3",
                 "--folds", "2", "--jobs", "1", *common]) == 0
    capsys.readouterr()
    assert main(["search", "nas-bench-bert", "-o", str(run), "--population", "40", "--generations", "3",
                 "--folds", "2", *common]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["export", str(run), "--format", "sympy", *common]) == 0
    formula = capsys.readouterr().out.strip()
    assert main(["score", "nas-bench-bert", "--formula", formula, "--json", *common]) == 0
    scored = json.loads(capsys.readouterr().out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert formula == metrics["formula"]
    final_train = metrics["final_train"]
    assert scored["spearman"] >= final_train - 0.1  # searched on a 3/4 split of these very architectures
    for fmt, marker in [("python", "def score_model"), ("latex", "\\begin{equation}"), ("json", '"latex"')]:
        assert main(["export", str(run), "--format", fmt, *common]) == 0
        assert marker in capsys.readouterr().out


def test_export_of_a_missing_run_is_a_clear_error(capsys, tmp_path):
    assert main(["export", str(tmp_path / "nothing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_exported_module_scores_a_torch_model(tables, data_dir, tmp_path):
    import importlib.util

    from discover import build_model
    from discover.search import search_tables
    from discover.search import SearchConfig
    bench, table = tables("nas-bench-bert")
    search_tables({"nas-bench-bert": table}, tmp_path / "run", SearchConfig(population=30, generations=2), folds=1,
                  progress=False)
    spec = importlib.util.spec_from_file_location("best_proxy", tmp_path / "run" / "best_proxy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from discover.formula import Formula
    import json
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    expected = Formula.from_string(metrics["formula"], table.columns).evaluate(table)[table.arch_id == "7"][0]
    assert module.score_model(build_model(bench, "7")) == pytest.approx(expected, rel=1e-9)


def test_compare_with_a_run_draws_the_figures(capsys, tables, data_dir, tmp_path):
    from discover.search import search_tables
    from discover.search import SearchConfig
    _, table = tables("nas-bench-bert")
    search_tables({"nas-bench-bert": table}, tmp_path / "run", SearchConfig(population=30, generations=2), folds=2,
                  progress=False)
    out = tmp_path / "report"
    assert main(["compare", "nas-bench-bert", "--proxies", "params", "zerolm", "--runs", str(tmp_path / "run"),
                 "-o", str(out), "-q", "--data-dir", str(data_dir)]) == 0
    report = pd.read_csv(out / "compare.csv")
    assert "discovered:run" in set(report["proxy"])
    for figure in ("scatter.png", "kendall.png"):
        assert (out / figure).stat().st_size > 5000


def test_a_discovered_proxy_is_scored_by_name(capsys, tables, data_dir, tmp_path):
    import json
    from discover.search import search_tables
    from discover.search import SearchConfig
    _, table = tables("nas-bench-bert")
    search_tables({"nas-bench-bert": table}, tmp_path / "run", SearchConfig(population=30, generations=2), folds=1,
                  progress=False)
    assert main(["score", "nas-bench-bert", "--proxy", f"run:{tmp_path / 'run'}", "--json", "-q",
                 "--data-dir", str(data_dir)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 500 and result["kendall"] > 0.5
    assert main(["compare", "nas-bench-bert", "--proxies", "zerolm", f"run:{tmp_path / 'run'}", "-q",
                 "--data-dir", str(data_dir)]) == 0
    assert f"run:{tmp_path / 'run'}" in capsys.readouterr().out


def test_score_model_on_any_model_weight_only_and_data_dependent():
    from discover import score_model
    from discover.benchmarks.flexibert.model import build_flexibert
    from tests.test_data_proxies import TINY
    model = build_flexibert(TINY, "spec")
    assert score_model(model, "params") > 0
    assert score_model(model, formula="sum_attention_capacity / n_layers") > 0
    assert score_model(model, "zerolm", alpha=1.0) > 0
    assert math.isfinite(score_model(model, "snip", batch=2, seq=8))
    with pytest.raises(ZcDiscoverError, match="alpha="):
        score_model(model, "zerolm")
    with pytest.raises(ZcDiscoverError, match="'nsc'"):
        score_model(model, "nsc_mp")


def test_score_model_on_a_hugging_face_style_model():
    import torch
    from torch import nn
    from discover import score_model

    class Tiny(nn.Module):   # named like Hugging Face's BERT, so that the decomposition places every parameter
        def __init__(self):
            super().__init__()
            self.embeddings = nn.Embedding(50, 16)
            self.encoder = nn.ModuleDict({"layer": nn.ModuleList([nn.ModuleDict({
                "attention": nn.Linear(16, 16), "intermediate": nn.Linear(16, 32), "ffn": nn.Linear(32, 16)})])})

        def get_input_embeddings(self):
            return self.embeddings

        def forward(self, ids):
            layer = self.encoder["layer"][0]
            x = self.embeddings(ids)
            x = x + layer["attention"](x)
            return x + layer["ffn"](torch.relu(layer["intermediate"](x)))

    model = Tiny()
    assert score_model(model, "params") > 0
    assert math.isfinite(score_model(model, "grad_norm", vocab_size=50, batch=2, seq=6))
