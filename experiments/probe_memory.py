"""What one probe holds in memory: the task pass's recorded tensors on the largest model of a benchmark.

    python experiments/probe_memory.py [NAME] [--without-linear-outputs]
        (default lts-gpt2-wt103; the largest model by d_model x layers x d_inner)

Prints the megabytes of every kind of tensor the task pass keeps for the proxies (linear layers' outputs and their
gradients, FFN activations and theirs, attention probabilities, weight gradients) and the process's peak RSS after the
probe, on one thread at the default probe shape. ``--without-linear-outputs`` probes the way ``probe_arch`` does when
no requested proxy reads the linear layers' outputs (one run per process: the peak RSS is the process's).
"""
from __future__ import annotations

import argparse
import resource

import torch

from discover import load_benchmark
from discover.benchmarks.catalog import build_model
from discover.probing import ProbeSettings


def size(arch) -> int:
    config = arch.config
    if "d_model" in config:
        return config["d_model"] * config["n_layer"] * max(config["d_inner"])
    return config["hidden_size"] * sum(layer["feed_forward_dimension"] for layer in config["layers"])


def megabytes(tensors) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", default="lts-gpt2-wt103")
    parser.add_argument("--without-linear-outputs", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    bench = load_benchmark(args.name)
    arch = max(bench.archs, key=size)
    passes = {"task"} if args.without_linear_outputs else None
    task = ProbeSettings().probe(build_model(bench, arch), bench.family, arch.config, seed=0, passes=passes).task
    print(f"{args.name} {arch.id}: task pass tensors, MB")
    for key in ("linear_outputs", "linear_output_grads", "acts", "act_grads", "probs"):
        print(f"  {key:20s} {megabytes(task.get(key, [])):8.1f}")
    print(f"  {'weight grads':20s} {megabytes(task['grads'].values()):8.1f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
