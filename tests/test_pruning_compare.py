"""compare on a stored pruning space (issue #27): every criterion, weight proxy and formula side by side, from the
stored values alone (no model, no text), as the study's table has them."""
import re

import numpy as np
import pandas as pd
import pytest

from discover import compare_pruning
from discover.cli import main
from discover.errors import ConfigError, DataError, UnknownNameError
from discover.formula import Formula
from discover.pruning.compare import compare_space, parse_space, stored_spaces
from discover.pruning.criteria import criteria_for
from discover.pruning.table import space_table
from discover.pruning.space_values import read_space
from tests.test_faults import one_clean_line

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def published_within(kind: str, model: str) -> dict[str, float]:
    """The study's row of docs/tables/pruning-within.md for one space (method -> equal-size Kendall)."""
    lines = [l for l in (ROOT / "docs" / "tables" / "pruning-within.md").read_text().splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:2] == [kind, model]:
            return {h: float(c) for h, c in zip(header[3:], cells[3:]) if c != "nan"}
    raise AssertionError(f"no row {kind} {model}")


@pytest.mark.parametrize("space", ["pruning:llama-8-depth", "pruning:gpt2-8-heads", "pruning:llama-12-ffn",
                                   "pruning:llama-8-mixed"])
def test_compare_gives_the_studys_figures_for_every_method(space):
    model, kind = parse_space(space)
    report = compare_pruning(space)
    published = published_within(kind, model)
    figures = dict(zip(report["method"], report["kendall_equal_size"]))
    shared = [m for m in published if m in figures]
    assert len(shared) >= len(criteria_for(kind)) + 2   # every criterion of the kind, ZeroLM and NSC
    for method in shared:
        assert figures[method] == pytest.approx(published[method], abs=5e-4), method
    assert report["kendall_equal_size"].dropna().is_monotonic_decreasing
    if kind != "mixed":   # a count is constant among equal-size candidates (a mixed space's vary within 1%)
        assert np.isnan(figures["params"])
    assert report.set_index("method").loc["magnitude", "zero_cost"] and \
        not report.set_index("method").loc["sleb", "zero_cost"]


def test_a_formula_is_scored_on_the_cheapest_arm_that_holds_its_columns():
    candidates, units, _ = read_space("llama-8", "depth")
    columns = space_table(candidates, units, "depth", "calibration").columns
    zero_cost = Formula.from_string("-removed_sum_magnitude", columns, "mine")
    calibrated = Formula.from_string("-removed_sum_removal_loss", columns, "ppl")
    report = compare_space("llama-8", "depth", ["magnitude", "shortened_ppl"],
                           {"mine": zero_cost, "ppl": calibrated}).set_index("method")
    # the same sums as the criteria: the same figures; the arm says what a formula costs
    assert report.loc["mine", "kendall_equal_size"] == pytest.approx(report.loc["magnitude", "kendall_equal_size"])
    assert report.loc["ppl", "kendall_equal_size"] == pytest.approx(report.loc["shortened_ppl",
                                                                               "kendall_equal_size"])
    assert report.loc["mine", "kind of method"] == "formula (weights arm)" and report.loc["mine", "zero_cost"]
    assert report.loc["ppl", "kind of method"] == "formula (calibration arm)" and not report.loc["ppl", "zero_cost"]


def test_a_formula_reading_columns_a_pruning_space_lacks_is_one_clear_error():
    with pytest.raises(ConfigError, match="which a pruning space does not have"):
        compare_space("llama-8", "depth", formulas={"f": Formula.from_string("steps4_heldout_loss",
                                                                              ["steps4_heldout_loss"])})


def test_names_are_checked_with_what_is_stored():
    assert "pruning:llama-8-depth" in stored_spaces() and len(stored_spaces()) == 12   # 3 models x 4 kinds
    with pytest.raises(UnknownNameError, match="Did you mean 'pruning:llama-8-depth'"):
        parse_space("pruning:llama-8-dpth")
    with pytest.raises(DataError, match="pruning_values.py --models llama-9 --kinds depth"):
        parse_space("pruning:llama-9-depth")
    with pytest.raises(ConfigError, match="block_influence does not apply to heads pruning"):
        compare_pruning("pruning:llama-8-heads", ["block_influence"])
    with pytest.raises(UnknownNameError, match="sleb"):
        compare_pruning("pruning:llama-8-heads", ["slb"])


def test_the_compare_verb_prints_and_writes_a_pruning_space(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["compare", "pruning:llama-8-ffn", "--proxies", "sleb", "wanda", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"\| sleb .*\|\s+0\.874 \|", printed) and "wanda" in printed
    assert sorted(p.name for p in out.iterdir()) == ["compare.csv", "compare.json", "compare.md"]
    assert len(pd.read_csv(out / "compare.csv")) == 2
    assert "pruning:llama-8-ffn (100 sub-networks" in (out / "compare.md").read_text()
    main(["benchmarks"])
    listed = capsys.readouterr().out
    assert "pruning:llama-8-ffn" in listed and "lonas:roformer-6-sentence_polarity" in listed


@pytest.mark.parametrize("argv, message", [
    (["compare", "pruning:llama-8-ffn", "--limit", "3"], "--limit does not apply"),
    (["compare", "pruning:llama-8-fn"], "unknown pruning space"),
    (["compare", "pruning:llama-8-ffn", "--proxies", "angular_distance"], "does not apply to ffn pruning")])
def test_bad_pruning_requests_are_one_line_and_write_nothing(capsys, tmp_path, argv, message):
    out = tmp_path / "report"
    assert message in one_clean_line(capsys, argv + ["-o", str(out)])
    assert not out.exists() or not any(out.iterdir())
