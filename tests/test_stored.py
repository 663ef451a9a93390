"""Stored values (``data/values``, written by ``zc-discover probe`` / experiments/probe_all.py) are read instead of
probing exactly when they answer the request, and never mixed in when they do not: a changed proxy definition is
probed again, alone; another seed or probe setting reads nothing."""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from discover import load_benchmark, probe_values
from discover.probing import ProbeSettings
from discover.proxies import PROXIES, data_proxy_table, probe_table
from discover.proxies.probe_table import activation_table
from discover.proxies.probe_table import stored_path
from discover.values import ENV_VALUES
from tests.test_loaders import GPT2, lts_folder

NAMES = ["snip", "grad_norm", "naswot"]


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """A tiny LTS benchmark whose values are stored, and a fresh (empty) cache."""
    bench = load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', [GPT2, {**GPT2, 'n_layer': 1}, {**GPT2, 'd_inner': 48}])}")
    monkeypatch.setenv(ENV_VALUES, str(tmp_path / "values"))
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache-of-the-probe"))
    meta = probe_values(bench, stored_path(bench.name, "as-trained"), NAMES)
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "empty-cache"))
    return bench, meta


def probed_names(monkeypatch):
    """Record which (architecture, proxies, features?) are probed instead of read."""
    calls = []
    original = probe_table.probe_arch

    def spy(benchmark, arch_id, names, *args):
        calls.append((arch_id, tuple(names), args[-1]))
        return original(benchmark, arch_id, names, *args)
    monkeypatch.setattr(probe_table, "probe_arch", spy)
    return calls


def test_stored_values_are_read_not_probed_and_equal_a_fresh_probe(stored, monkeypatch):
    bench, _ = stored
    calls = probed_names(monkeypatch)
    read = data_proxy_table(bench, NAMES)
    features = activation_table(bench)
    assert calls == []
    fresh = data_proxy_table(bench, NAMES, use_stored=False, use_cache=False)
    for name in NAMES:
        np.testing.assert_array_equal(read[name].to_numpy(), fresh[name].to_numpy())
    again = activation_table(bench, use_stored=False, use_cache=False)
    pd.testing.assert_frame_equal(features, again)


def test_a_changed_proxy_definition_is_probed_again_alone(stored, monkeypatch):
    bench, _ = stored
    monkeypatch.setitem(PROXIES, "snip", dataclasses.replace(PROXIES["snip"], version=PROXIES["snip"].version + 1))
    calls = probed_names(monkeypatch)
    table = data_proxy_table(bench, NAMES)
    assert sorted(calls) == sorted((a.id, ("snip",), False) for a in bench.archs)
    assert np.isfinite(table["snip"]).all()


def test_changed_features_are_probed_again(stored, monkeypatch):
    bench, _ = stored
    monkeypatch.setattr(probe_table, "ACTIVATION_VERSION", probe_table.ACTIVATION_VERSION + 1)
    calls = probed_names(monkeypatch)
    activation_table(bench)
    assert sorted(calls) == sorted((a.id, (), True) for a in bench.archs)


@pytest.mark.parametrize("request_change", [{"seed": 1}, {"settings": ProbeSettings(tokens="zipf")},
                                            {"settings": ProbeSettings(batch=4)}])
def test_another_seed_or_probe_reads_nothing_stored(stored, monkeypatch, request_change):
    bench, _ = stored
    calls = probed_names(monkeypatch)
    data_proxy_table(bench, ["snip"], **request_change)
    assert len(calls) == len(bench)


def test_values_of_another_benchmark_digest_are_not_read(stored, monkeypatch):
    bench, _ = stored
    path = stored_path(bench.name, "as-trained")
    meta_path = path.with_name(path.name.replace(".csv.gz", ".json"))
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "benchmark_sha256": "0" * 64}))
    calls = probed_names(monkeypatch)
    data_proxy_table(bench, ["snip"])
    assert len(calls) == len(bench)


def test_the_provenance_records_every_version_and_the_request(stored):
    bench, meta = stored
    assert meta["versions"] == {**{n: PROXIES[n].version for n in NAMES}, "activations": probe_table.ACTIVATION_VERSION}
    assert meta["probe"] == ProbeSettings().describe() and meta["seed"] == 0 and meta["n"] == len(bench)
    assert meta["benchmark_sha256"] == bench.checksum and meta["complete"] is True


def test_a_rewrite_keeps_the_history_of_the_runs_that_wrote_the_file(stored, monkeypatch, tmp_path):
    bench, meta = stored
    assert [run["changed"] for run in meta["runs"]] == ["all"]
    monkeypatch.setitem(PROXIES, "snip", dataclasses.replace(PROXIES["snip"], version=PROXIES["snip"].version + 1))
    again = probe_values(bench, stored_path(bench.name, "as-trained"), NAMES)
    # the cost of probing everything stays on record; the second run says what it had to probe again
    assert again["runs"][0] == meta["runs"][0] and again["runs"][1]["changed"] == ["snip"]
    other = probe_values(bench, stored_path(bench.name, "as-trained"), NAMES, seed=1)
    assert [run["changed"] for run in other["runs"]] == ["all"]   # another request starts a new history
