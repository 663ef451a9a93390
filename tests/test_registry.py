import pytest

from discover import DataError, UnknownNameError, get_spec, load_benchmark


def test_names_and_alias_resolve():
    assert get_spec("flexibert").name == "nas-bench-bert"
    assert get_spec("lts-gpt2-wt103").builders == ("as-trained",)
    assert get_spec("nas-bench-bert").builders == ("as-trained", "spec", "legacy")


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownNameError, match="Did you mean 'nas-bench-bert'"):
        get_spec("nas-bench-brt")


def test_missing_data_names_fetch_and_env(tmp_path):
    with pytest.raises(DataError) as err:
        load_benchmark("nas-bench-bert", tmp_path, offline=True)
    assert "zc-discover fetch nas-bench-bert" in str(err.value)
    assert "ZC_DISCOVER_DATA" in str(err.value)


def test_shipped_benchmarks_load(flexibert, gpt2):
    assert len(flexibert) == 500 and len(gpt2) == 200
    assert flexibert.arch("0").target == pytest.approx(74.73375)
    # perplexity is lower-is-better: the target is its negation, the raw value is kept
    arch = gpt2.arch("config_0_j0")
    assert arch.target == pytest.approx(-arch.metrics["valid_ppl"])
    assert arch.config["n_head"] == [2, 4, 4, 8, 8] and arch.config["cutoffs"] == [19997, 39997, 50264]


def test_lts_path_loads_any_folder(data_dir):
    bench = load_benchmark(f"lts:{data_dir / 'lts' / 'random_GPT2_wt103'}")
    assert len(bench) == 200


def test_unknown_arch_id(flexibert):
    with pytest.raises(UnknownNameError, match="architecture id"):
        flexibert.arch("5000")


def test_checksum_of_shipped_file_matches_pin(flexibert):
    assert flexibert.checksum == flexibert.spec.sha256


def test_lts_tree_checksum_matches_pin(gpt2):
    assert gpt2.checksum == gpt2.spec.sha256


def test_default_data_dir_is_user_cache(monkeypatch):
    from discover.benchmarks.datadir import data_dir
    monkeypatch.delenv("ZC_DISCOVER_DATA", raising=False)
    assert "zc-discover" in str(data_dir())
    monkeypatch.setenv("ZC_DISCOVER_DATA", "/somewhere")
    assert str(data_dir()) == "/somewhere"
    assert str(data_dir("/explicit")) == "/explicit"


def test_benchmark_metadata_is_complete():
    for name in ("nas-bench-bert", "lts-gpt2-wt103", "lts-gpt2-lm1b"):
        spec = get_spec(name)
        assert spec.url.startswith("https://") and spec.license and spec.citation and spec.n_archs
