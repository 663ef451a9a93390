"""Values files read back: a comparison from values probed elsewhere equals the one that probes, and a file that does
not fit the comparison is refused with the fix."""
import json

import numpy as np
import pandas as pd
import pytest

from discover import compare, load_benchmark
from discover.comparison import compare_provenance, write_report
from discover.errors import DataError
from discover.probing import ProbeSettings
from discover.values import read_values
from tests.test_loaders import GPT2, lts_folder

PROBE = {"batch": 2, "seq": 8}


@pytest.fixture
def tiny_lts(tmp_path):
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', [GPT2, {**GPT2, 'n_layer': 1}, {**GPT2, 'd_inner': 48}])}")


@pytest.fixture
def probed(tiny_lts, tmp_path):
    """A report that probed, and its values written the way ``compare -o`` writes them."""
    report = compare(tiny_lts, ["params", "grad_norm", "snip"], options=PROBE)
    settings = ProbeSettings(**PROBE)
    write_report(report, tmp_path / "report", compare_provenance(tiny_lts, None, 0, settings, "cpu", report),
                 plots=False)
    return report, tmp_path / "report" / "values.csv"


def rewrite_values(path, values: pd.DataFrame) -> None:
    """Write edited values back and record their digest in the provenance, as a deliberate re-write would (a file
    edited without its JSON is refused: test_an_edited_or_cut_values_file_is_refused)."""
    from discover.values import content_digest
    text = values.to_csv(index=False, lineterminator="\n").encode()
    path.write_bytes(text)
    rewrite_provenance(path, content_sha256=content_digest(text))


def signed(path, text: str, meta: dict | None = None) -> None:
    """A hand-written values file and a provenance JSON that records its digest."""
    from discover.values import content_digest
    path.write_text(text)
    (path.parent / "values.json").write_text(json.dumps({**(meta or {}),
                                                        "content_sha256": content_digest(text.encode())}))


def rewrite_provenance(path, **changes):
    meta_path = path.parent / "compare.json"
    meta = {**json.loads(meta_path.read_text()), **changes}
    meta_path.write_text(json.dumps(meta))


def test_a_comparison_from_values_files_probes_nothing_and_equals_the_probed_one(tiny_lts, probed, monkeypatch):
    from discover.proxies import probe_table
    report, path = probed
    monkeypatch.setattr(probe_table, "probe_arch", lambda *args: pytest.fail("probed although values were given"))
    again = compare(tiny_lts, ["params", "grad_norm", "snip"], values=[path], options=PROBE)
    for name in ("grad_norm", "snip"):
        np.testing.assert_array_equal(again.attrs["scores"][name], report.attrs["scores"][name])
    pd.testing.assert_frame_equal(again.set_index("proxy")[["spearman", "kendall", "n", "failed"]].sort_index(),
                                  report.set_index("proxy")[["spearman", "kendall", "n", "failed"]].sort_index())


def test_weight_only_proxies_are_computed_whatever_the_files_say(tiny_lts, probed):
    report, path = probed
    values = pd.read_csv(path)
    values.loc[values.proxy == "params", "value"] = 1.0   # a constant, if it were read
    rewrite_values(path, values)
    again = compare(tiny_lts, ["params"], values=[path], options=PROBE)
    np.testing.assert_array_equal(again.attrs["scores"]["params"], report.attrs["scores"]["params"])


def test_a_proxy_the_files_lack_is_probed_as_usual(tiny_lts, probed):
    _, path = probed
    report = compare(tiny_lts, ["grad_norm", "synaptic_diversity"], values=[path], options=PROBE)
    assert report.set_index("proxy").loc["synaptic_diversity", "failed"] == 0
    assert np.isfinite(report.attrs["scores"]["synaptic_diversity"]).all()


def test_failures_in_a_values_file_stay_failures(tiny_lts, probed):
    _, path = probed
    values = pd.read_csv(path, dtype={"failure": object})
    broken = (values.proxy == "snip") & (values.arch_id == values.arch_id.iloc[0])
    values.loc[broken, "value"], values.loc[broken, "failure"] = np.nan, "out of memory"
    rewrite_values(path, values)
    row = compare(tiny_lts, ["snip"], values=[path], options=PROBE).set_index("proxy").loc["snip"]
    assert row.failed == 1 and "out of memory" in row.note and row.n == len(tiny_lts) - 1


def test_values_for_too_few_architectures_name_the_missing_and_the_fix(tiny_lts, probed):
    _, path = probed
    values = pd.read_csv(path)
    rewrite_values(path, values[values.arch_id != values.arch_id.iloc[-1]])
    with pytest.raises(DataError, match="no snip for 1 of the 3 architectures.*probe_all.py"):
        compare(tiny_lts, ["snip"], values=[path], options=PROBE)


@pytest.mark.parametrize("changes, options, message", [
    ({"benchmark": "lts-txl-wt103"}, PROBE, "computed with benchmark 'lts-txl-wt103'"),
    ({"builder": "legacy"}, PROBE, "computed with builder 'legacy'"),
    ({"seed": 5}, PROBE, "computed with seed 5, not 0"),
    ({}, {"batch": 4, "seq": 8}, "computed with probe .*'batch': 2"),
    ({"probe": {**ProbeSettings(**PROBE).describe(), "tokens": "zipf"}}, PROBE, "'tokens': 'zipf'"),
    ({"versions": {"snip": 0, "grad_norm": 1, "params": 1}}, PROBE, "snip was computed by version 0 .* current one is 1"),
    ({"versions": None}, PROBE, "does not record the proxies' versions"),
])
def test_values_of_another_request_are_refused_saying_what_differs(tiny_lts, probed, changes, options, message):
    _, path = probed
    meta = json.loads((path.parent / "compare.json").read_text())
    if changes.get("versions", 1) is None:
        meta.pop("versions")
        changes = {}
    (path.parent / "compare.json").write_text(json.dumps({**meta, **changes}))
    with pytest.raises(DataError, match=message):
        compare(tiny_lts, ["snip"], values=[path], options=options)


def test_a_values_file_without_its_provenance_is_refused(tiny_lts, probed):
    _, path = probed
    (path.parent / "compare.json").unlink()
    with pytest.raises(DataError, match="no provenance beside it"):
        compare(tiny_lts, ["snip"], values=[path], options=PROBE)


@pytest.mark.parametrize("text, message", [
    ("arch_id,value\na,1\n", r"needs the columns arch_id, proxy, value.*\['proxy'\] missing"),
    ("arch_id,proxy,value\na,snip,1\na,snip,2\n", "snip on a two different values"),
    ("arch_id,proxy,value\na,snip,abc\n", "'abc' of snip on a is not a number"),
])
def test_malformed_values_files(tmp_path, text, message):
    path = tmp_path / "values.csv"
    signed(path, text)
    with pytest.raises(DataError, match=message):
        read_values([path])


def test_a_file_that_is_not_there(tmp_path):
    with pytest.raises(DataError, match=r"\(values file\): does not exist"):
        read_values([tmp_path / "nothing.csv"])


def test_the_same_value_twice_is_one_value(tmp_path):
    path = tmp_path / "values.csv"
    signed(path, "arch_id,proxy,value\na,snip,1.5\na,snip,1.5\nb,snip,\n")
    values = read_values([path])
    assert len(values) == 2 and values.value.iloc[0] == 1.5 and np.isnan(values.value.iloc[1])


@pytest.mark.parametrize("edit", ["cut", "edited", "other"])
def test_an_edited_or_cut_values_file_is_refused(tiny_lts, probed, edit):
    """Issue #31: a values file is tied to its provenance by the digest of its content - a file cut mid-row, edited
    by hand, or another file renamed beside this JSON is refused, never read as if the JSON described it."""
    _, path = probed
    text = path.read_bytes()
    if edit == "cut":
        path.write_bytes(text[: len(text) - 3])   # the last row loses its last digits and its line end
        message = "cut short"
    elif edit == "edited":
        path.write_bytes(text.replace(b",", b";", 1).replace(b";", b",", 1).replace(b"\n", b"\n\n", 1))
        message = "does not match the digest"
    else:
        values = pd.read_csv(path)
        values["value"] = values["value"] * 2
        path.write_bytes(values.to_csv(index=False, lineterminator="\n").encode())
        message = "does not match the digest"
    with pytest.raises(DataError, match=message):
        compare(tiny_lts, ["snip"], values=[path], options=PROBE)
