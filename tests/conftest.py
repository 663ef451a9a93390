import os
from pathlib import Path

import pytest

# Tests never download: a missing benchmark must fail loudly instead of being fetched.
os.environ["ZC_DISCOVER_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZC_DISCOVER_DATA") or REPO.parent / "shared" / "benchmarks")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "nas-bench-bert" / "BERT_benchmark.json").is_file():
        pytest.skip(f"benchmark data not found at {DATA}; set ZC_DISCOVER_DATA")
    return DATA


@pytest.fixture(scope="session")
def flexibert(data_dir):
    from discover import load_benchmark
    return load_benchmark("nas-bench-bert", data_dir)


@pytest.fixture(scope="session")
def gpt2(data_dir):
    from discover import load_benchmark
    return load_benchmark("lts-gpt2-wt103", data_dir)
