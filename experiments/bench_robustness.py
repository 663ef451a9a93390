"""What the robustness pipeline costs on this machine, measured on a few sub-networks (issue #29).

    python experiments/bench_robustness.py [--encoder roformer-6] [--task sentence_polarity] [--steps 60]
                                           [--subnets 3] [--sentences 10] [--max-queries 200]

Trains a super-adapter for ``--steps`` steps (its seconds per step), scores ``--subnets`` sub-networks on the dev and
test splits, attacks ``--sentences`` test sentences of each with both attacks, and prints each figure and what the
full pipeline (``experiments/robustness_subnets.py``: 600 steps, 200 sub-networks, 100 sentences, two tasks) would
take at those rates. An adapter trained for few steps is a weak classifier, so its attacks end sooner (or are
skipped) than a trained one's: the attack figure is a lower bound.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.robustness import superadapter as sa
from discover.robustness.attacks import Attack, attacked_examples, mlm_proposer
from discover.robustness.elastic import sample_subnetworks
from discover.text import load_task, tokenizer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="roformer-6")
    parser.add_argument("--task", default="sentence_polarity")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--subnets", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--max-queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    folder = models_dir() / args.encoder
    tok, task = tokenizer(), load_task(args.task)
    mlm = trained.load_model(folder, task="masked-lm")[0]
    started = time.perf_counter()
    model, card = sa.train_super_adapter(trained.load_model(folder, task="masked-lm")[0].base_model,
                                         trained.weights_digest(folder), task, tok, steps=args.steps,
                                         threads=args.threads, log_every=0)
    per_step = (time.perf_counter() - started) / args.steps
    subs = sample_subnetworks(model.space, model.config, args.subnets, seed=0)
    started = time.perf_counter()
    for sub in subs:
        sa.accuracy(model, tok, task.dev, sub), sa.accuracy(model, tok, task.test, sub)
    per_clean = (time.perf_counter() - started) / len(subs)
    attacks = [Attack("deepwordbug", args.max_queries), Attack("bae", args.max_queries,
                                                               proposer=mlm_proposer(mlm, tok))]
    chosen = attacked_examples(task.test, args.sentences, seed=0)
    per_sentence, queries = {}, {}
    for attack in attacks:
        started, used = time.perf_counter(), []
        for sub in subs:
            model.use(sub)
            used += [attack.run(lambda t: sa.predict(model, tok, t), e.text, e.label, e.key).queries for e in chosen]
        per_sentence[attack.name] = (time.perf_counter() - started) / (len(subs) * len(chosen))
        queries[attack.name] = float(np.mean(used))
    print(f"super-adapter training: {per_step:.3f} s per step ({args.steps} steps, {args.threads} threads; "
          f"dev accuracy of the largest after them {card['dev_accuracy']['largest']:.3f})")
    print(f"clean accuracy (dev + test, {len(task.dev) + len(task.test)} sentences): {per_clean:.1f} s per "
          "sub-network")
    for name in per_sentence:
        print(f"{name}: {per_sentence[name]:.3f} s per sentence, {queries[name]:.1f} queries on average "
              f"(budget {args.max_queries}; a sentence the sub-network gets wrong costs one)")
    full = 2 * (600 * per_step + 200 * (per_clean + 100 * sum(per_sentence.values())))
    print(f"full pipeline at these rates (2 tasks x 600 steps, 200 sub-networks, 100 sentences, both attacks): "
          f"{full / 3600:.1f} h (a lower bound: a trained adapter resists longer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
