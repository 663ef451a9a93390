"""Probing and featurizing on a Dask cluster: the same values, in the same order, as a local run - on a
``LocalCluster`` of worker processes and on a cluster started with the ``dask scheduler`` / ``dask worker`` command
lines - a killed worker costs nothing but time, a scheduler that goes away is one clear line, and a bad address is
refused before any work."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from discover import compare, engine, featurize, load_benchmark
from discover.cli import main
from discover.proxies import data_proxy_table
from tests.test_loaders import GPT2, lts_folder

distributed = pytest.importorskip("distributed")
PROBE = {"batch": 2, "seq": 8}
PROXIES = ["snip", "grad_norm", "naswot"]


@pytest.fixture
def tiny(tmp_path):
    configs = [{**GPT2, "d_inner": [64 + 8 * i, 48, 16], "n_layer": 1 + i % 2} for i in range(8)]
    return load_benchmark(f"lts-gpt2:{lts_folder(tmp_path / 'lts', configs)}")


def cluster(workers: int = 2):
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                    dashboard_address=None)


def test_a_local_cluster_gives_the_local_values(tiny, monkeypatch, tmp_path):
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "local"))
    local_table = featurize(tiny, n_jobs=1, use_cache=False)
    local = compare(tiny, ["params", *PROXIES], n_jobs=1, options=PROBE, table=local_table)
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "remote"))
    with cluster() as running, engine(scheduler=running.scheduler_address):
        remote_table = featurize(tiny, use_cache=False)
        remote = compare(tiny, ["params", *PROXIES], options=PROBE, table=remote_table)
    pd.testing.assert_frame_equal(local_table, remote_table)
    assert local.attrs["arch_ids"] == remote.attrs["arch_ids"]
    for name in PROXIES:
        np.testing.assert_array_equal(local.attrs["scores"][name], remote.attrs["scores"][name])
    # the client wrote the records: nothing was written by a worker elsewhere
    assert any((tmp_path / "remote").rglob("*.json"))


def _worker_pids(client) -> list[int]:
    return sorted(client.run(os.getpid).values())


@pytest.mark.slow
def test_killing_one_of_two_workers_during_compare_loses_nothing(flexibert, monkeypatch, tmp_path):
    ids = [a.id for a in flexibert.archs[:40]]
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "clean"))
    clean = data_proxy_table(flexibert, PROXIES, ids=ids, use_stored=False, n_jobs=2)
    monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "killed"))
    with cluster() as running, engine(scheduler=running.scheduler_address) as active:
        victim = _worker_pids(active.client)[0]
        records = tmp_path / "killed"

        def kill_when_started():
            deadline = time.time() + 120
            while time.time() < deadline and len(list(records.rglob("*.json"))) < 4:
                time.sleep(0.2)
            os.kill(victim, signal.SIGKILL)
        killer = threading.Thread(target=kill_when_started)
        killer.start()
        table = data_proxy_table(flexibert, PROXIES, ids=ids, use_stored=False)
        killer.join()
    assert table["arch_id"].tolist() == ids
    for name in PROXIES:
        np.testing.assert_array_equal(table[name].to_numpy(), clean[name].to_numpy())


@pytest.mark.slow
def test_the_dask_command_lines_on_localhost(tiny, tmp_path, monkeypatch):
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = None
    try:
        for _ in range(300):
            if scheduler_file.is_file() and scheduler_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--nworkers", "2", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env)
        monkeypatch.setenv("ZC_DISCOVER_CACHE", str(tmp_path / "cache"))
        out = tmp_path / "features.csv"
        assert main(["featurize", f"lts-gpt2:{tiny.path}", "--scheduler", address, "--no-cache", "-o",
                     str(out)]) == 0
        local = featurize(tiny, n_jobs=1, use_cache=False)
        remote = pd.read_csv(out, dtype={"arch_id": str})
        pd.testing.assert_frame_equal(local.reset_index(drop=True), remote, check_dtype=False)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


@pytest.mark.parametrize("argv, message", [
    (["--scheduler", "tcp://127.0.0.1:1"], "no Dask scheduler answers at tcp://127.0.0.1:1"),
    (["--scheduler", "not an address"], "is not a Dask scheduler address"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--jobs", "2"], "give one of them"),
])
def test_bad_scheduler_options_are_one_line_before_any_work(capsys, argv, message, monkeypatch):
    import discover.benchmarks
    monkeypatch.setattr(discover.benchmarks, "load_benchmark", lambda *a, **k: pytest.fail("loaded the benchmark"))
    assert main(["compare", "nas-bench-bert", "--proxies", "snip", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
