"""search on a stored pruning space (issue #27): ``zc-discover search pruning:MODEL-KIND`` runs the same GP over the
space's table as the study does, writes an ordinary run folder, and that run scores with compare and ProxySearch."""
import hashlib
import json

import numpy as np
import pytest

from discover import ProxySearch
from discover.cli import main
from discover.errors import ConfigError, DataError, UnknownNameError
from discover.metrics import table_quality
from discover.pruning.compare import compare_space
from discover.pruning.searched import pruning_search_table
from discover.pruning.space_values import read_space, space_files
from discover.pruning.table import space_table

QUICK = dict(population=60, generations=3, fitness="iso", jobs=1)


def test_the_search_table_is_the_studys_table_of_the_stored_space():
    candidates, units, _ = read_space("llama-8", "heads")
    for with_calibration, arm in ((False, "weights"), (True, "calibration")):
        name, table, digest = pruning_search_table("pruning:llama-8-heads", with_calibration=with_calibration)
        # the checksum is of the stored files' bytes, the ones the table was parsed from
        files = b"".join(path.read_bytes() for path in space_files("llama-8", "heads"))
        assert name == "pruning:llama-8-heads" and digest == hashlib.sha256(files).hexdigest()
        assert table.equals(space_table(candidates, units, "heads", arm))
    assert "removed_sum_removal_loss" in table and "removed_sum_removal_loss" not in \
        pruning_search_table("llama-8-heads")[1]   # the prefix may be left out, as compare allows


def test_a_search_on_a_pruning_space_is_a_run_that_compare_scores_the_same(tmp_path):
    search = ProxySearch(**QUICK, folds=2, output=tmp_path / "run").fit("pruning:llama-8-depth")
    held = search.metrics_["heldout"]["pruning:llama-8-depth"]
    assert held["folds"] == 2 and -1 <= held["kendall"] <= 1
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["arguments"]["benchmarks"] == ["pruning:llama-8-depth"]
    assert config["benchmark_checksums"]["pruning:llama-8-depth"] == pruning_search_table("pruning:llama-8-depth")[2]
    # scored again, by ProxySearch and by compare, it gives the same figure as its own table says
    _, table, _ = pruning_search_table("pruning:llama-8-depth", with_calibration=True)
    expected = table_quality(np.asarray(search.formula_.evaluate(table), float), table).kendall
    assert search.score("pruning:llama-8-depth")["kendall"] == pytest.approx(expected)
    assert len(search.predict("pruning:llama-8-depth")) == len(table)
    report = compare_space("llama-8", "depth", [], {"found": search.formula_})
    assert report.set_index("method").loc["found", "kendall"] == pytest.approx(expected)


def test_with_activations_offers_the_calibration_statistics_and_transfer_scores_another_model(tmp_path):
    searched = {}
    for with_activations in (False, True):
        searched[with_activations] = ProxySearch(**QUICK, folds=1, with_activations=with_activations,
                                                 output=tmp_path / str(with_activations),
                                                 transfer=["pruning:llama-8-heads"]).fit(
            ["pruning:gpt2-8-heads", "pruning:llama-12-heads"])
    assert searched[True].run_.config["features"] > searched[False].run_.config["features"]
    assert searched[True].run_.config["arguments"]["with_activations"] is True
    assert set(searched[True].metrics_["transfer"]) == {"pruning:llama-8-heads"}


def test_the_search_verb_takes_a_pruning_space_and_its_run_is_compared(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["search", "pruning:llama-8-ffn", "-o", str(run), "--population", "60", "--generations", "2",
                 "--fitness", "iso", "--jobs", "1", "--folds", "2", "-q"]) == 0
    out = capsys.readouterr().out
    assert "held out on pruning:llama-8-ffn" in out and f"run folder: {run}" in out
    assert main(["compare", "pruning:llama-8-ffn", "--runs", str(run), "-q"]) == 0
    assert f"run:{run}" in capsys.readouterr().out


def test_bad_pruning_searches_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="few-step"):
        ProxySearch(**QUICK, with_steps=4, output=tmp_path / "a").fit("pruning:llama-8-depth")
    with pytest.raises(UnknownNameError):
        ProxySearch(**QUICK, output=tmp_path / "b").fit("pruning:llama-8-nothing")
    with pytest.raises(DataError, match="no stored pruning space"):
        ProxySearch(**QUICK, output=tmp_path / "c").fit("pruning:llama-99-depth")
    with pytest.raises(ConfigError, match="transfer"):
        ProxySearch(**QUICK, output=tmp_path / "d", transfer=["pruning:llama-8-depth"]).fit("pruning:llama-8-depth")
    assert not any((tmp_path / n).exists() for n in "abcd")
