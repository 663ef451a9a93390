"""What the robustness pipeline costs on this machine, measured on a few sub-networks (issue #29).

    python experiments/bench_robustness.py [--encoder roformer-6] [--task sentence_polarity] [--steps 60]
                                           [--subnets 4] [--sentences 20] [--max-queries 200] [--jobs 2]

Trains a super-adapter for ``--steps`` steps (its seconds per step; or reads the stored one when ``--stored``),
measures ``--subnets`` sub-networks' targets (``discover.robustness.targets``: clean dev and test accuracy, both
attacks on ``--sentences`` test sentences) on ``--jobs`` processes, and prints each figure and what the full
pipeline (``experiments/robustness_subnets.py`` with the given settings for ``--count`` sub-networks and two tasks)
would take at those rates. An adapter trained for few steps is a weak classifier, whose attacks end sooner (or are
skipped): use ``--stored`` for the figure of a trained one.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.robustness import superadapter as sa
from discover.robustness.elastic import sample_subnetworks
from discover.robustness.targets import TargetRequest, measure_targets
from discover.text import load_task, tokenizer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="roformer-6")
    parser.add_argument("--task", default="sentence_polarity")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--stored", action="store_true", help="time the stored super-adapter's sub-networks")
    parser.add_argument("--subnets", type=int, default=4)
    parser.add_argument("--count", type=int, default=200, help="sub-networks per task in the extrapolation")
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--max-queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    encoder = models_dir() / args.encoder
    tok, task = tokenizer(), load_task(args.task)
    with tempfile.TemporaryDirectory() as scratch:
        if args.stored:
            model, card, folder = sa.super_adapter_for(encoder, task, tok, steps=sa.TRAINING["steps"])
            per_step = float(card["train_seconds"]) / card["training"]["steps"]
        else:
            started = time.perf_counter()
            model, card = sa.train_super_adapter(trained.load_model(encoder, task="masked-lm")[0].base_model,
                                                 trained.weights_digest(encoder), task, tok, steps=args.steps,
                                                 threads=args.threads, log_every=0)
            per_step = (time.perf_counter() - started) / args.steps
            folder = sa.save_super_adapter(f"{scratch}/adapter", model, card)
        subs = [s.name for s in sample_subnetworks(model.space, model.config, args.subnets + 2, seed=0)[2:]]
        request = TargetRequest(str(encoder), str(folder), args.task, attack_sentences=args.sentences,
                                max_queries=args.max_queries)
        started = time.perf_counter()
        table = measure_targets(request, subs, jobs=args.jobs)
        wall = (time.perf_counter() - started) / len(subs)
    seconds = table.drop_duplicates(["arch_id", "proxy"]).assign(
        what=lambda t: t.proxy.str.split("_").str[0]).groupby(["arch_id", "what"]).seconds.sum()
    per = seconds.groupby("what").mean()
    values = table.pivot(index="arch_id", columns="proxy", values="value")
    print(f"super-adapter: {per_step:.3f} s per step ({card['training']['steps']} steps, {args.threads} threads); "
          f"dev accuracy largest {card['dev_accuracy']['largest']:.3f}, smallest "
          f"{card['dev_accuracy']['smallest']:.3f}")
    print(f"per sub-network (one thread each): dev {per['dev']:.1f} s, test {per['test']:.1f} s, "
          + ", ".join(f"{a} {per[a]:.1f} s ({args.sentences} sentences, {values[a + '_queries'].mean():.0f} "
                      f"queries each on average)" for a in ("deepwordbug", "bae")))
    print(f"wall per sub-network on {args.jobs} jobs: {wall:.1f} s")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(values.round(3).T)
    steps = sa.TRAINING["steps"]
    full = 2 * (steps * per_step + args.count * wall)
    print(f"full pipeline at these rates (2 tasks x {steps} steps, {args.count} sub-networks, {args.sentences} "
          f"sentences, {args.max_queries} queries): {full / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
