"""Released per-architecture values are matched key for key; anything else is one clear error."""
import pandas as pd
import pytest
import yaml

from discover import DataError, load_benchmark
from discover.reference import align_reference, read_reference
from tests.test_loaders import GPT2, lts_folder


@pytest.fixture
def bench(tmp_path):
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'space', [GPT2, GPT2, GPT2])}")


def write_scores(folder, name, values):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_scores_seed_1111.yaml").write_text(yaml.safe_dump(values))


def test_yaml_folder_and_csv_are_read_and_aligned(bench, tmp_path):
    keys = [a.id for a in bench.archs]
    write_scores(tmp_path / "ref", "snip", {k: float(i) for i, k in enumerate(reversed(keys))})
    aligned = align_reference(read_reference(tmp_path / "ref"), bench, ["snip"])
    assert aligned["arch_id"].tolist() == keys and aligned["snip"].tolist() == [2.0, 1.0, 0.0]
    pd.DataFrame({"ID": keys, "x": [1, 2, 3]}).to_csv(tmp_path / "ref.csv", index=False)
    assert align_reference(read_reference(tmp_path / "ref.csv"), bench, ["x"])["x"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("values, message", [
    ({"config_0_j0": 1.0, "config_1_j0": 2.0}, "holds 2 architectures.*missing from the reference: config_2_j0"),
    ({"config_0_j0": 1.0, "config_1_j0": 2.0, "config_2_j0": 3.0, "config_9_j9": 4.0}, "not in .*config_9_j9"),
    ({"config_0_j0": 1.0, "config_1_j0": float("nan"), "config_2_j0": 3.0}, "not a finite number.*config_1_j0"),
    ({"config_0_j0": 1.0, "config_1_j0": "n/a", "config_2_j0": 3.0}, "not a finite number"),
])
def test_missing_extra_or_nan_values_are_one_clear_error(bench, tmp_path, values, message):
    write_scores(tmp_path / "ref", "snip", values)
    with pytest.raises(DataError, match=message):
        align_reference(read_reference(tmp_path / "ref"), bench, ["snip"])


def test_files_with_different_keys_and_csv_without_ids(tmp_path):
    write_scores(tmp_path / "ref", "a", {"k1": 1.0, "k2": 2.0})
    write_scores(tmp_path / "ref", "b", {"k1": 1.0})
    with pytest.raises(DataError, match="b has keys"):
        read_reference(tmp_path / "ref")
    pd.DataFrame({"name": ["a"], "x": [1]}).to_csv(tmp_path / "ref.csv", index=False)
    with pytest.raises(DataError, match="no 'ID' column"):
        read_reference(tmp_path / "ref.csv")


def test_the_released_lpzero_files_match_the_benchmarks(data_dir):
    root = data_dir.parent / "reference" / "lpzero"
    if not root.is_dir():
        pytest.skip(f"no reference data at {root}")
    gpt2 = align_reference(read_reference(root / "random_GPT2_wt103"), load_benchmark("lts-gpt2-wt103", data_dir),
                           ["lpzero", "snip"])
    bert = align_reference(read_reference(root / "BERT_results_activation_lpzero.csv"),
                           load_benchmark("nas-bench-bert", data_dir), ["lpzero"])
    assert len(gpt2) == 200 and len(bert) == 500
