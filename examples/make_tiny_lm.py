"""Build examples/tiny-lm: a small, real benchmark of your own kind - 36 tiny Llama and GPT-2 language models trained
briefly on a text every Python installation ships, their held-out losses recorded - in the hf:PATH format.

    python examples/make_tiny_lm.py [--out examples/tiny-lm] [--steps 300] [--jobs 2]

The text is the docstrings of a fixed list of standard-library modules (what ``help()`` shows), read character by
character (ids 0-127: ASCII, anything else 127); the last tenth is held out. Each architecture is a Hugging Face
config (``configs/<id>.json``) trained from its seeded initialisation with AdamW for ``--steps`` steps of 16 x 64
characters; ``results.csv`` records its held-out cross-entropy (``loss``, lower is better), its training loss, its
parameter count and the seconds it took. Everything is seeded: the same Python version and torch give the same
folder, whatever --jobs (the text's sha256 and the versions are in benchmark.yaml). About 2.5 minutes on
two cores.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import platform
import sys
import time
from pathlib import Path

import torch
from joblib import Parallel, delayed

MODULES = ("argparse", "collections", "csv", "functools", "json", "logging", "pathlib", "re", "string", "textwrap",
           "unittest", "urllib.parse", "zipfile", "datetime", "decimal", "fractions", "statistics", "heapq")
VOCAB = 128
BATCH, SEQ = 16, 64


def corpus() -> str:
    """The docstrings of ``MODULES`` and of their public classes and functions, in a fixed order."""
    import importlib
    parts = []
    for name in MODULES:
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for attribute in sorted(dir(module)):
            if attribute.startswith("_"):
                continue
            doc = inspect.getdoc(getattr(module, attribute, None))
            if doc and len(doc) > 40:
                parts.append(doc)
    return "\n\n".join(parts)


def encode(text: str) -> torch.Tensor:
    return torch.tensor([min(ord(c), VOCAB - 1) for c in text], dtype=torch.long)


def architectures() -> dict[str, dict]:
    """36 configs: Llama and GPT-2, widths 32-96, 1-4 layers, FFN ratios 1-4."""
    configs = {}
    grid = [(w, l, r) for w in (32, 64, 96) for l in (1, 2, 4) for r in (1, 4)]
    for family in ("llama", "gpt2"):
        for width, layers, ratio in grid:
            heads = 4 if width % 4 == 0 else 2
            if family == "llama":
                config = {"model_type": "llama", "hidden_size": width, "num_hidden_layers": layers,
                          "num_attention_heads": heads, "num_key_value_heads": heads,
                          "intermediate_size": width * ratio, "vocab_size": VOCAB, "max_position_embeddings": 128,
                          "tie_word_embeddings": False, "initializer_range": 0.02}
            else:
                config = {"model_type": "gpt2", "n_embd": width, "n_layer": layers, "n_head": heads,
                          "n_inner": width * ratio, "vocab_size": VOCAB, "n_positions": 128,
                          "bos_token_id": 0, "eos_token_id": 0, "initializer_range": 0.02}
            configs[f"{family}-d{width}-l{layers}-r{ratio}"] = config
    return configs


def train(arch_id: str, config: dict, data: torch.Tensor, held_out: torch.Tensor, steps: int) -> dict:
    """Train one model from its seeded initialisation; its held-out and last training losses."""
    from discover.benchmarks.hf import build
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = build({"task": "causal-lm", "num_labels": None, "hf": config}, seed=0)
    model.train()
    # dropout (GPT-2's) draws from torch's global generator: seed it per model, or a model's losses would depend on
    # which models its worker process trained before it
    torch.manual_seed(0)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    generator = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(steps):
        offsets = torch.randint(0, len(data) - SEQ - 1, (BATCH,), generator=generator)
        batch = torch.stack([data[o:o + SEQ] for o in offsets])
        loss = model(input_ids=batch, labels=batch).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    model.eval()
    with torch.no_grad():
        windows = held_out[: (len(held_out) // SEQ) * SEQ].view(-1, SEQ)[:64]
        held = float(model(input_ids=windows, labels=windows).loss)
    parameters = sum(p.numel() for p in model.parameters())
    return {"id": arch_id, "loss": round(held, 6), "train_loss": round(sum(losses[-20:]) / 20, 6),
            "params": parameters, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "tiny-lm")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    text = corpus()
    data = encode(text)
    cut = int(len(data) * 0.9)
    configs = architectures()
    start = time.perf_counter()
    rows = Parallel(n_jobs=args.jobs)(delayed(train)(arch_id, config, data[:cut], data[cut:], args.steps)
                                      for arch_id, config in configs.items())
    (args.out / "configs").mkdir(parents=True, exist_ok=True)
    for arch_id, config in configs.items():
        (args.out / "configs" / f"{arch_id}.json").write_text(json.dumps(config, indent=1) + "\n")
    lines = ["id,loss,train_loss,params,seconds"] + [f"{r['id']},{r['loss']},{r['train_loss']},{r['params']},"
                                                       f"{r['seconds']}" for r in rows]
    (args.out / "results.csv").write_text("\n".join(lines) + "\n")
    digest = hashlib.sha256(text.encode()).hexdigest()
    (args.out / "benchmark.yaml").write_text(
        "name: tiny-lm\ntask: causal-lm\ntarget: loss\nhigher_is_better: false\nlicence: MIT (this project)\n"
        f"description: >-\n  36 tiny Llama and GPT-2 models trained {args.steps} steps of {BATCH} x {SEQ} characters "
        f"on Python {platform.python_version()}'s standard-library docstrings ({len(text):,} characters, sha256 "
        f"{digest[:16]}), torch {torch.__version__}; loss is the held-out cross-entropy per character. Made by "
        f"examples/make_tiny_lm.py in {time.perf_counter() - start:.0f} s with {args.jobs} workers.\n")
    print(f"{len(rows)} models trained in {time.perf_counter() - start:.0f} s -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
