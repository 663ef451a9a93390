"""Your own search space: Hugging Face folders (hf:PATH), the Python path (Benchmark.from_builder) and both layouts of
the LTS release (lts:PATH). Tiny configs of every supported family build offline, place every parameter once, and run
featurize, score, compare and search end to end; every bad folder is one line and exit status 2, and no code from a
folder ever runs."""
import json
import math

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from discover import Benchmark, ProxySearch, compare, featurize, load_benchmark, score_proxy
from discover.benchmarks import build_model
from discover.cli import main
from discover.proxies.probe_table import probe_arch
from primitives.decompose import decompose
from primitives.roles import tag
from tests.test_faults import one_clean_line

transformers = pytest.importorskip("transformers")

TINY = {
    "bert": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
             "vocab_size": 100, "max_position_embeddings": 64},
    "roberta": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
                "vocab_size": 100, "max_position_embeddings": 70, "pad_token_id": 1},
    "gpt2": {"n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": 64, "vocab_size": 100, "n_positions": 64,
             "bos_token_id": 0, "eos_token_id": 0},
    "gpt_neox": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
                 "vocab_size": 100, "max_position_embeddings": 64},
    "opt": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 64, "vocab_size": 100,
            "max_position_embeddings": 64, "word_embed_proj_dim": 32, "pad_token_id": 1, "bos_token_id": 0,
            "eos_token_id": 0},
    "llama": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 64},
    "mistral": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 64},
    "qwen2": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 64},
    "t5": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4, "vocab_size": 100,
           "decoder_start_token_id": 0, "pad_token_id": 0},
}
TASKS = {"bert": "masked-lm", "roberta": "masked-lm", "qwen2": "sequence-classification"}
WIDTH_KEY = {"gpt2": "n_inner", "opt": "ffn_dim", "t5": "d_ff"}


def hf_folder(root, model_type="llama", n=12, task=None, extra=None):
    """A folder of ``n`` configs of one family (FFN width varying) with made-up losses."""
    task = task or TASKS.get(model_type, "causal-lm")
    (root / "configs").mkdir(parents=True)
    spec = {"name": f"tiny-{model_type}", "task": task, "target": "loss", "higher_is_better": False}
    if task == "sequence-classification":
        spec["num_labels"] = 3
    (root / "benchmark.yaml").write_text(yaml.safe_dump(spec))
    rows = ["id,loss,other"]
    key = WIDTH_KEY.get(model_type, "intermediate_size")
    for i in range(n):
        config = {**TINY[model_type], "model_type": model_type, key: 32 + 16 * i, **(extra or {})}
        (root / "configs" / f"a{i}.json").write_text(json.dumps(config))
        rows.append(f"a{i},{5.0 - 0.1 * i + 0.05 * (i % 3)},{i}")
    (root / "results.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("model_type", list(TINY))
def test_every_parameter_of_every_family_is_placed_once(tmp_path, model_type):
    bench = load_benchmark(f"hf:{hf_folder(tmp_path / model_type, model_type, n=2)}")
    model = build_model(bench, bench.archs[0])
    tensors = decompose(model)
    assert sum(t.numel for t in tensors) == model.num_parameters()
    roles = {t.role for t in tensors}
    assert {"attention", "ffn", "embedding"} <= roles
    counts = model.zc_parameter_counts
    assert counts["total"] == model.num_parameters() and counts["attention"] > 0 and counts["ffn"] > 0
    assert counts["nonembedding"] >= counts["attention"] + counts["ffn"]
    layers = {t.layer for t in tensors if t.role in ("attention", "ffn")}
    assert None not in layers and len(layers) == (4 if model_type == "t5" else 2)


@pytest.mark.parametrize("model_type", ["gpt2", "bert", "llama", "qwen2", "opt"])
def test_the_probe_runs_every_proxy_with_its_own_task_loss(tmp_path, model_type):
    from discover.proxies import probe_proxies
    bench = load_benchmark(f"hf:{hf_folder(tmp_path / model_type, model_type, n=2)}")
    row = probe_arch(bench, bench.archs[0].id, list(probe_proxies()), None, 0, with_features=True)
    failed = {k[:-6]: v for k, v in row.items() if k.endswith(":error") and v}
    # only the proxies that read a part these models lack: head masks, recorded projections, a position table
    allowed = {"head_importance", "lpzero_bert", "tfnas_head_confidence", "lpzero_jacobian_cosine",
               "lpzero_synflow", "lpzero_logsynflow"}
    assert set(failed) <= allowed, failed
    assert "head mask" in failed["head_importance"]
    assert all(math.isfinite(v) for v in row["activations"].values())
    assert math.isfinite(row["snip"]) and math.isfinite(row["naswot"]) and math.isfinite(row["w-pca"])


def test_the_same_seed_gives_the_same_model_and_shared_parameters_agree(tmp_path):
    bench = load_benchmark(f"hf:{hf_folder(tmp_path / 'llama')}")
    a, b = build_model(bench, "a0"), build_model(bench, "a0")
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), name
    other = build_model(bench, "a1")   # another FFN width, the same attention
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(dict(a.named_parameters())[name], dict(other.named_parameters())[name])


def test_featurize_score_compare_and_search_end_to_end(tmp_path, capsys):
    folder = hf_folder(tmp_path / "llama")
    name = f"hf:{folder}"
    bench = load_benchmark(name)
    assert [a.target for a in bench.archs][:2] == [-5.0, pytest.approx(-4.95)]   # lower-is-better loss, oriented
    table = featurize(bench, n_jobs=1)
    assert len(table) == 12 and np.isfinite(table["sum_ffn_fro2"]).all()
    assert score_proxy(bench, "params", n_jobs=1, table=table)["n"] == 12
    report = compare(bench, ["params", "snip", "naswot"], n_jobs=1, table=table)
    assert set(report["proxy"]) == {"params", "snip", "naswot"} and (report["failed"] == 0).all()
    search = ProxySearch(population=20, generations=2, folds=2, jobs=1, output=tmp_path / "run").fit(bench)
    assert search.formula_ is not None
    assert main(["score", name, "--proxy", "snip", "--jobs", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 12
    assert main(["search", name, "-o", str(tmp_path / "cli-run"), "--folds", "2", "--population", "20",
                 "--generations", "2", "--jobs", "1", "-q"]) == 0


def test_a_folder_of_200_configs_featurizes(tmp_path):
    bench = load_benchmark(f"hf:{hf_folder(tmp_path / 'many', 'gpt2', n=200)}")
    table = featurize(bench, n_jobs=2, use_cache=False)
    assert len(table) == 200 and table["sum_ffn_numel"].nunique() == 200


def test_code_named_by_a_config_never_runs(tmp_path, capsys):
    folder = hf_folder(tmp_path / "evil")
    marker = tmp_path / "ran"
    (folder / "evil_model.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    config = json.loads((folder / "configs" / "a0.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil_model.Config", "AutoModelForCausalLM": "evil_model.Model"}
    (folder / "configs" / "a0.json").write_text(json.dumps(config))
    err = one_clean_line(capsys, ["score", f"hf:{folder}", "--proxy", "snip"])
    assert "auto_map names code to run" in err and "a0.json" in err
    assert not marker.exists()


def _edit(path, change):
    path.write_text(change(path.read_text()))


def _loss_of_a4(text: str):
    """A damage: a4's loss cell replaced by ``text``."""
    return lambda f: _edit(f / "results.csv", lambda t: "\n".join(
        f"a4,{text},4" if line.startswith("a4,") else line for line in t.splitlines()) + "\n")


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "benchmark.yaml").unlink(), "benchmark.yaml is missing"),
    (lambda f: _edit(f / "benchmark.yaml", lambda t: t.replace("causal-lm", "translation")), "field task"),
    (lambda f: _edit(f / "benchmark.yaml", lambda t: t.replace("target: loss", "target: accuracy")),
     "no column 'accuracy'"),
    (lambda f: _edit(f / "results.csv", lambda t: t.replace("a3,", "a2,")), "appears more than once"),
    (_loss_of_a4(""), "missing or not finite"), (_loss_of_a4("high"), "'high', not a number"),
    (_loss_of_a4("nan"), "missing or not finite"), (_loss_of_a4("inf"), "missing or not finite"),
    (lambda f: (f / "configs" / "a5.json").unlink(), "no config for 1 architecture"),
    (lambda f: (f / "configs" / "b9.json").write_text("{}"), "without a row in results.csv"),
    (lambda f: _edit(f / "configs" / "a1.json", lambda t: t.replace('"llama"', '"llamma"')), "llama"),
    (lambda f: _edit(f / "configs" / "a1.json", lambda t: json.dumps({k: v for k, v in json.loads(t).items()
                                                                      if k != "model_type"})), "no model_type"),
    (lambda f: _edit(f / "configs" / "a1.json", lambda t: t[:-1] + ', "trust_remote_code": true}'),
     "trust_remote_code names code to run"),
])
def test_every_bad_folder_is_one_line(tmp_path, capsys, damage, message):
    folder = hf_folder(tmp_path / "bad")
    damage(folder)
    assert message in one_clean_line(capsys, ["score", f"hf:{folder}", "--proxy", "params"])


# --- the Python path -----------------------------------------------------------------------------------------------

class Tiny(nn.Module):
    """A model of the caller's own: embeddings, then residual FFN blocks, tagged with their roles."""

    def __init__(self, width: int, layers: int, vocab: int = 50):
        super().__init__()
        self.emb = tag(nn.Embedding(vocab, width), "embedding")
        self.blocks = nn.ModuleList(
            tag(nn.Sequential(tag(nn.Linear(width, 2 * width), "ffn"), nn.GELU(), tag(nn.Linear(2 * width, width),
                                                                                     "ffn")), layer=i)
            for i in range(layers))

    def forward(self, ids):
        x = self.emb(ids)
        for block in self.blocks:
            x = x + block(x)
        return x

    def get_input_embeddings(self):
        return self.emb


def build_tiny(config, seed):
    return Tiny(config["width"], config["layers"])


def test_a_benchmark_of_your_own_models(tmp_path):
    ids = [f"m{i}" for i in range(12)]
    configs = [{"width": 8 + 4 * (i % 4), "layers": 1 + i // 4, "vocab_size": 50} for i in range(12)]
    losses = [10.0 - c["width"] * c["layers"] / 10 - 0.01 * i for i, c in enumerate(configs)]
    bench = Benchmark.from_builder(ids, configs, losses, build=build_tiny, higher_is_better=False, name="mine")
    table = featurize(bench, n_jobs=2, use_cache=False)
    assert table["n_params"].tolist() == [float(sum(p.numel() for p in build_tiny(c, 0).parameters()))
                                         for c in configs]
    assert score_proxy(bench, "params", n_jobs=1)["kendall"] > 0.5
    report = compare(bench, ["params", "snip", "synflow"], n_jobs=1)
    assert (report["failed"] == 0).all()
    fitted = ProxySearch(population=20, generations=2, folds=2, jobs=1, output=tmp_path / "run").fit(bench)
    assert fitted.metrics_["heldout"]["mine"]["kendall"] is not None


def test_the_python_path_refuses_bad_input():
    from discover.errors import DataError
    with pytest.raises(DataError, match="one of each"):
        Benchmark.from_builder(["a"], [{}, {}], [1.0], build=build_tiny)
    with pytest.raises(DataError, match="appears more than once"):
        Benchmark.from_builder(["a", "a"], [{}, {}], [1.0, 2.0], build=build_tiny)
    with pytest.raises(DataError, match="not finite"):
        Benchmark.from_builder(["a", "b"], [{}, {}], [1.0, float("nan")], build=build_tiny)


# --- both layouts of the LTS release --------------------------------------------------------------------------------

def test_the_pareto_layout_loads_with_latency_and_memory(tmp_path):
    from tests.test_loaders import GPT2
    folder = tmp_path / "pareto_GPT2_tiny"
    for k in (1, 2, 10):
        (folder / f"M{k}").mkdir(parents=True)
        (folder / f"M{k}" / "model_config.yaml").write_text(yaml.safe_dump({**GPT2, "d_inner": [32 * k, 48]}))
    (folder / "ppl_summary.yaml").write_text("M1: 70.5\nM2: 60.25\nM10: 50.0\n")
    (folder / "latency_summary.yaml").write_text("M1: 1000.0\nM2: 1500.0\nM10: 3000.0\n")
    (folder / "memory_summary.yaml").write_text("M1: 125.0\nM2: 140.0\nM10: 200.0\n")
    bench = load_benchmark(f"lts-gpt2:{folder}")
    assert [a.id for a in bench.archs] == ["M1", "M2", "M10"]
    assert [a.target for a in bench.archs] == [-70.5, -60.25, -50.0]
    assert bench.arch("M10").metrics["latency"] == 3000.0 and bench.arch("M2").metrics["memory"] == 140.0


def test_the_package_never_imports_transformers_unless_asked():
    import subprocess
    import sys
    code = ("import sys, discover; from discover import load_benchmark; from discover.cli import build_parser; "
            "build_parser(); assert 'transformers' not in sys.modules, 'imported'")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_lpzero_head_importance_reads_a_conv1d_weight_as_in_by_out(tmp_path):
    """LPZero keeps the GPT-2 Conv1D layers that read >= 128 features; a Conv1D stores its weight (in, out), so with
    n_embd 32 and n_inner 256 only each block's MLP output projection (256 -> 32) is kept."""
    from discover.probing import ProbeRun, make_batch
    from discover.proxies import PROXIES
    bench = load_benchmark(f"hf:{hf_folder(tmp_path / 'gpt2', 'gpt2', n=1, extra={'n_inner': 256})}")
    model = build_model(bench, bench.archs[0])
    conv = {name: m for name, m in model.named_modules() if type(m).__name__ == "Conv1D"}
    widths = {t.name: t.input_width for t in decompose(model) if t.name.removesuffix(".weight") in conv}
    assert widths and all(widths[f"{n}.weight"] == m.weight.shape[0] for n, m in conv.items())
    batch = make_batch(100, 2, 8, seed=0)
    run = ProbeRun(model, batch, bench.family)
    _, loss = bench.family.task_loss(model, batch.ids, batch.labels, batch.seed)
    kept = [m for m in conv.values() if m.weight.shape[0] >= 128]
    assert len(kept) == 2
    grads = torch.autograd.grad(loss, [m.weight for m in kept])
    expected = sum(float((m.weight.detach() * g).abs().sum()) for m, g in zip(kept, grads))
    assert PROXIES["lpzero_head_importance"].function(run) == pytest.approx(expected, rel=1e-5)


def test_the_example_builder_trains_each_model_the_same_whatever_ran_before_it():
    """examples/make_tiny_lm.py trains the models in worker processes, in an order that depends on --jobs: a model's
    losses must not depend on what ran before it (GPT-2's dropout draws from torch's global generator)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "examples" / "make_tiny_lm.py"
    spec = importlib.util.spec_from_file_location("make_tiny_lm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.architectures()["gpt2-d32-l1-r1"]
    data = torch.arange(600) % module.VOCAB
    first = module.train("gpt2-d32-l1-r1", config, data, data[:200], steps=2)
    torch.rand(1000)   # what another model's training would have drawn
    again = module.train("gpt2-d32-l1-r1", config, data, data[:200], steps=2)
    assert (first["loss"], first["train_loss"]) == (again["loss"], again["train_loss"])
