"""How long a folder of Hugging Face configs takes to featurize: 200 tiny GPT-2 and Llama configs (FFN widths
varying), from an empty cache.

    python experiments/bench_hf.py [--archs 200] [--jobs 2]

Goal (issue #20): <= 60 s on two cores. Writes docs/tables/speed-hf.md.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from discover import featurize, load_benchmark
from report import write_table

TINY = {"gpt2": {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 1000,
                 "n_positions": 128, "bos_token_id": 0, "eos_token_id": 0},
        "llama": {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "num_key_value_heads": 4, "vocab_size": 1000, "max_position_embeddings": 128}}


def folder(root: Path, archs: int) -> Path:
    (root / "configs").mkdir(parents=True)
    (root / "benchmark.yaml").write_text("name: bench\ntask: causal-lm\ntarget: loss\nhigher_is_better: false\n")
    rows = ["id,loss"]
    for i in range(archs):
        family = "gpt2" if i % 2 else "llama"
        width = {"gpt2": "n_inner", "llama": "intermediate_size"}[family]
        (root / "configs" / f"m{i}.json").write_text(json.dumps({**TINY[family], width: 32 + 4 * i}))
        rows.append(f"m{i},{3.0 + 0.001 * i}")
    (root / "results.csv").write_text("\n".join(rows) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["ZC_DISCOVER_CACHE"] = str(Path(scratch) / "cache")
        start = time.perf_counter()
        bench = load_benchmark(f"hf:{folder(Path(scratch) / 'bench', args.archs)}")
        loaded = time.perf_counter() - start
        table = featurize(bench, n_jobs=args.jobs, use_cache=False)
        total = time.perf_counter() - start
    text = (f"| Hugging Face configs | load s | load + featurize s | --jobs |\n|---|---|---|---|\n"
            f"| {len(table)} tiny GPT-2 and Llama (d 64, 2 layers, FFN 32-{32 + 4 * (args.archs - 1)}) | "
            f"{loaded:.1f} | {total:.1f} | {args.jobs} |\n")
    print(text)
    write_table("speed-hf", text, "experiments/bench_hf.py", "From an empty cache; the goal is <= 60 s on two cores.")


if __name__ == "__main__":
    main()
