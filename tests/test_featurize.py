import pandas as pd
import pytest

from discover import build_model, load_benchmark
from discover.features import featurize, featurize_model, table_columns
from discover.benchmarks import Benchmark
from tests.test_loaders import GPT2, lts_folder


@pytest.fixture
def tiny(tmp_path):
    configs = [GPT2, {**GPT2, "div_val": 1, "d_embed": 16}, {**GPT2, "n_layer": 1}, {**GPT2, "d_inner": [20, 20]}]
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', configs)}")


def test_table_has_one_row_per_arch_and_all_columns(tiny):
    table = featurize(tiny, use_cache=False)
    assert list(table["arch_id"]) == [a.id for a in tiny.archs]
    assert set(table_columns()) <= set(table.columns)
    assert table.notna().all().all()


def test_identical_for_any_number_of_jobs(tiny):
    one = featurize(tiny, n_jobs=1, use_cache=False)
    for jobs in (2, 3):
        pd.testing.assert_frame_equal(one, featurize(tiny, n_jobs=jobs, use_cache=False))


def test_fast_path_equals_measuring_the_built_model(tiny, flexibert, gpt2):
    for bench, arch_id, builder in [(tiny, "config_1_j0", None), (flexibert, "1", "spec"), (flexibert, "0", None)]:
        table = featurize(bench, builder, use_cache=False) if bench is tiny else None
        if table is None:
            sub = Benchmark(bench.spec, bench.path, [bench.arch(arch_id)])  # a one-architecture benchmark
            table = featurize(sub, builder, use_cache=False)
        row = table.set_index("arch_id").loc[arch_id]
        direct = featurize_model(build_model(bench, arch_id, builder))
        for name, value in direct.items():
            assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_cache_is_reused_and_a_corrupt_one_rebuilt(tiny, caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
    first = featurize(tiny)
    from discover import cache
    (path,) = list(cache.cache_dir().glob("features-*.parquet"))
    assert featurize(tiny).equals(first)
    path.write_bytes(path.read_bytes()[:100])  # cut short
    with caplog.at_level("WARNING"):
        again = featurize(tiny)
    assert "unreadable" in caplog.text
    pd.testing.assert_frame_equal(again, first, check_like=True)
    first.drop(columns=["sum_ffn_logdet"]).to_parquet(path)  # written by an older version
    with caplog.at_level("WARNING"):
        featurize(tiny)
    assert "no content digest" in caplog.text
    cache.write_table(first.drop(columns=["sum_ffn_logdet"]), path)   # a table of another version, with its digest
    with caplog.at_level("WARNING"):
        featurize(tiny)
    assert "lacks columns" in caplog.text
    cache.write_table(first, path)   # the right columns and digest, but no key: a table copied into this slot
    with caplog.at_level("WARNING"):
        pd.testing.assert_frame_equal(featurize(tiny), first, check_like=True)
    assert "computed for another request" in caplog.text


def test_dask_backend_matches_local(tiny):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        remote = featurize(tiny, n_jobs=2, backend="dask", scheduler=cluster.scheduler_address, use_cache=False)
    pd.testing.assert_frame_equal(remote, featurize(tiny, n_jobs=1, use_cache=False))


@pytest.mark.slow
def test_gpt2_features_cover_every_role(tables):
    _, table = tables("lts-gpt2-wt103")
    assert len(table) == 200
    assert (table["count_head"] == 1).all() and (table["count_mixing"] == 0).all()
    assert (table["params_nonembedding"] > 0).all()
