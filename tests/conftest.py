import os
from pathlib import Path

import pytest

# Tests never download: a missing benchmark must fail loudly instead of being fetched.
os.environ["ZC_DISCOVER_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZC_DISCOVER_DATA") or REPO.parent / "shared" / "benchmarks")
CORPORA = Path(os.environ.get("ZC_DISCOVER_CORPORA") or DATA.parent / "corpora")
# A test that runs the command line (main()) reads the same folders as the rest of the suite, so that the README's
# test command passes in a new shell where ZC_DISCOVER_DATA was never exported.
if DATA.is_dir():
    os.environ.setdefault("ZC_DISCOVER_DATA", str(DATA))
if CORPORA.is_dir():
    os.environ.setdefault("ZC_DISCOVER_CORPORA", str(CORPORA))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "nas-bench-bert" / "BERT_benchmark.json").is_file():
        pytest.skip(f"benchmark data not found at {DATA}; set ZC_DISCOVER_DATA")
    return DATA


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The pinned NLTK corpora (../shared/corpora); tests never download them."""
    if not (CORPORA / "inaugural.zip").is_file():
        pytest.skip(f"text corpora not found at {CORPORA}; set ZC_DISCOVER_CORPORA")
    return CORPORA


@pytest.fixture(scope="session")
def flexibert(data_dir):
    from discover import load_benchmark
    return load_benchmark("nas-bench-bert", data_dir)


@pytest.fixture(scope="session")
def gpt2(data_dir):
    from discover import load_benchmark
    return load_benchmark("lts-gpt2-wt103", data_dir)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Feature caches of this test session live in a temporary folder, never in the user's cache."""
    os.environ["ZC_DISCOVER_CACHE"] = str(tmp_path_factory.mktemp("zc-cache"))


@pytest.fixture(scope="session")
def tables(flexibert, gpt2):
    """Feature tables of the real benchmarks, computed once per test session (on both cores)."""
    from discover.features import featurize
    cache = {}

    def get(name: str, builder: str | None = None):
        key = (name, builder)
        if key not in cache:
            bench = flexibert if name == "nas-bench-bert" else gpt2
            cache[key] = (bench, featurize(bench, builder, seed=0, n_jobs=2))
        return cache[key]
    return get
