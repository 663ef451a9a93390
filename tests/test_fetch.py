"""fetch against a small HTTP server on 127.0.0.1: verified, atomic, and never leaves a broken copy."""
import dataclasses
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from discover import DataError, get_spec
from discover.benchmarks.checksums import tree_sha256
from discover.benchmarks.fetch import fetch

PAYLOAD = b'[{"id": 0}]' * 100


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    truncate: set[str] = set()

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncated response: the header promises more bytes than are sent, then the connection closes.
        self.wfile.write(body[: len(body) // 2] if self.path in self.truncate else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.files, Handler.truncate = {}, set()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def file_spec(url, sha):
    return dataclasses.replace(get_spec("nas-bench-bert"), url=url, sha256=sha)


def test_fetch_file_verifies_and_places(server, tmp_path):
    Handler.files["/bench.json"] = PAYLOAD
    spec = file_spec(server + "/bench.json", hashlib.sha256(PAYLOAD).hexdigest())
    path = fetch(spec, tmp_path)
    assert path == tmp_path / "nas-bench-bert" / "BERT_benchmark.json" and path.read_bytes() == PAYLOAD
    assert [p.name for p in path.parent.iterdir()] == ["BERT_benchmark.json"]  # no temporary left


def test_checksum_mismatch_refused_and_good_copy_kept(server, tmp_path):
    Handler.files["/bench.json"] = b"tampered"
    good = tmp_path / "nas-bench-bert" / "BERT_benchmark.json"
    good.parent.mkdir(parents=True)
    good.write_bytes(PAYLOAD)
    spec = file_spec(server + "/bench.json", hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(DataError, match="checksum mismatch.*existing copy kept"):
        fetch(spec, tmp_path, force=True)
    assert good.read_bytes() == PAYLOAD
    assert [p.name for p in good.parent.iterdir()] == ["BERT_benchmark.json"]


def test_interrupted_download_leaves_nothing(server, tmp_path):
    Handler.files["/bench.json"] = PAYLOAD
    Handler.truncate.add("/bench.json")
    spec = file_spec(server + "/bench.json", hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(DataError, match="(stopped after|failed)"):
        fetch(spec, tmp_path)
    assert not (tmp_path / "nas-bench-bert").exists()   # neither a partial file nor the folder made for it


def test_unreachable_url_names_the_way_out(tmp_path):
    spec = file_spec("http://127.0.0.1:9/none.json", "0" * 64)
    with pytest.raises(DataError, match="ZC_DISCOVER_DATA"):
        fetch(spec, tmp_path)


def test_fetch_folder_benchmark(server, tmp_path):
    files = {"ppl_summary.yaml": b"config_0_j0: {valid_ppl: 3.0}\n", "config_0/j0/model_config.yaml": b"n_layer: 1\n"}
    for name, body in files.items():
        Handler.files[f"/lts/{name}"] = body
    staged = tmp_path / "expected"
    for name, body in files.items():
        (staged / name).parent.mkdir(parents=True, exist_ok=True)
        (staged / name).write_bytes(body)
    spec = dataclasses.replace(get_spec("lts-gpt2-wt103"), url=server + "/lts/", files=tuple(files),
                               sha256=tree_sha256(staged, list(files)))
    dest = fetch(spec, tmp_path / "data")
    assert (dest / "config_0" / "j0" / "model_config.yaml").read_bytes() == b"n_layer: 1\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["random_GPT2_wt103"]


def test_unpinned_benchmark_needs_consent(server, tmp_path):
    Handler.files["/bench.json"] = PAYLOAD
    spec = file_spec(server + "/bench.json", None)
    with pytest.raises(DataError, match="no pinned checksum.*--allow-unverified"):
        fetch(spec, tmp_path)
    assert fetch(spec, tmp_path, allow_unverified=True).read_bytes() == PAYLOAD


def test_missing_benchmark_is_fetched_on_first_use(server, tmp_path, monkeypatch):
    from discover.benchmarks import catalog as registry
    body = Path(__file__).with_name("test_loaders.py")  # any content; the loader is swapped below
    Handler.files["/bench.json"] = PAYLOAD
    spec = file_spec(server + "/bench.json", hashlib.sha256(PAYLOAD).hexdigest())
    spec = dataclasses.replace(spec, family=dataclasses.replace(spec.family, load=lambda path: []))
    monkeypatch.setitem(registry.SPECS, "nas-bench-bert", spec)
    bench = registry.load_benchmark("nas-bench-bert", tmp_path, offline=False)
    assert bench.path.read_bytes() == PAYLOAD and body.exists()
