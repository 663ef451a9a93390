import pandas as pd
import pytest

from discover.cli import main


def test_benchmarks_lists_both_shipped_with_sizes(capsys, data_dir):
    assert main(["benchmarks", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "nas-bench-bert" in out and "lts-gpt2-wt103" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert " 500 " in lines["nas-bench-bert"] and "present" in lines["nas-bench-bert"]
    assert " 200 " in lines["lts-gpt2-wt103"] and "present" in lines["lts-gpt2-wt103"]


def test_misspelled_verb_suggests(capsys):
    with pytest.raises(SystemExit):
        main(["benchmark"])
    assert "Did you mean 'benchmarks'" in capsys.readouterr().err


def test_unknown_benchmark_is_a_clean_error(capsys):
    assert main(["featurize", "flexibrt", "-o", "x.csv"]) == 2
    assert "Did you mean 'flexibert'" in capsys.readouterr().err


def test_featurize_writes_one_row_per_arch(tmp_path):
    from tests.test_loaders import GPT2, lts_folder
    folder = lts_folder(tmp_path / "lts", [GPT2, {**GPT2, "div_val": 1}])
    out = tmp_path / "table.csv"
    assert main(["featurize", f"lts:{folder}", "-o", str(out), "-q"]) == 0
    table = pd.read_csv(out)
    assert list(table["arch_id"]) == ["config_0_j0", "config_1_j0"]
    assert {"arch_id", "target", "n_params", "params_attention", "params_ffn"} <= set(table.columns)
    assert (table["target"] == [-30.0, -31.0]).all()


def test_python_dash_m_entry_point():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "discover", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("zc-discover ")
