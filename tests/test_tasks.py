"""The robustness study's tasks (issue #29): pinned, balanced, seeded splits; altered or mislabelled files refused."""
import shutil

import pytest

from discover.errors import ConfigError, DataError, UnknownNameError
from discover.text import tasks
from discover.text.tasks import load_task, split_examples, task_from_csv


@pytest.mark.parametrize("name, sizes", [("sentence_polarity", (8530, 1066, 1066)),
                                         ("subjectivity", (8000, 1000, 1000))])
def test_pinned_tasks_split_by_label_the_same_way_every_time(corpora, name, sizes):
    task = load_task(name, folder=corpora)
    assert (len(task.train), len(task.dev), len(task.test)) == sizes
    keys = [{e.key for e in task.split(s)} for s in tasks.SPLIT_NAMES]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert sum(e.label for e in task.test) == len(task.test) // 2   # each split keeps the task's balance
    again = load_task(name, folder=corpora)
    assert again.test == task.test and again.digest == task.digest
    other = load_task(name, seed=1, folder=corpora)
    assert other.test != task.test and other.digest != task.digest


def test_an_altered_corpus_is_refused_before_it_is_read(corpora, tmp_path):
    shutil.copy(corpora / "subjectivity.zip", tmp_path / "subjectivity.zip")
    with open(tmp_path / "subjectivity.zip", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(DataError, match="sha256 differs"):
        load_task("subjectivity", folder=tmp_path)


def test_a_file_with_the_wrong_number_of_sentences_is_refused(monkeypatch):
    monkeypatch.setattr(tasks, "read_member", lambda corpus, member, *a: "one sentence\nanother\n")
    with pytest.raises(DataError, match=r"rt-polarity.neg holds 2 sentences, not the 5,331.*labels cannot be"):
        load_task("sentence_polarity")


def test_unknown_task_and_bad_seed(corpora):
    with pytest.raises(UnknownNameError, match="subjectivity"):
        load_task("subjectivty", folder=corpora)
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        split_examples([], seed=-1)


def test_a_task_of_ones_own(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("text,label\n" + "".join(f"sentence {i},{i % 2}\n" for i in range(40)))
    task = load_task(f"csv:{path}")
    assert (len(task.train), len(task.dev), len(task.test)) == (32, 4, 4) and task.labels == ("0", "1")


@pytest.mark.parametrize("body, message", [
    ("text,label\na,0\nb,1.5\n", "row 3 has label '1.5'"), ("text,label\na,0\nb,x\n", "row 3 has label 'x'"),
    ("text,label\na,1\nb,1\n", "at least two classes"), ("text,label\na,0\nb,2\n", "without gaps"),
    ("sentence,label\na,0\n", "no 'text' column"), ("text,label\n,0\nb,1\n", "row 2 has no text")])
def test_a_bad_task_file_names_its_row(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        task_from_csv(path)
