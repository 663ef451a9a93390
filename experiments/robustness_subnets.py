"""Train the LoNAS super-adapter of each sentence task and store its sub-networks' clean accuracy (issue #29).

    python experiments/robustness_subnets.py [--tasks sentence_polarity subjectivity] [--count 200] [--steps 600]

The encoder is the robustness study's masked-LM (``--encoder``, default ``roformer-6``: build it first with
``python experiments/build_reference_models.py roformer-6``). Per task: a super-adapter trained on the train split
(``discover.robustness.superadapter``; kept in ``$ZC_DISCOVER_MODELS/lonas-<encoder>-<task>`` while its card matches
the request), then ``--count`` distinct sub-networks drawn by seed 0 (the largest and the smallest first), each
scored on the whole dev and test splits, and attacked by DeepWordBug and BAE-R (``discover.robustness.attacks``:
the same ``--attack-sentences`` test sentences, drawn by seed 0, ``--max-queries`` victim queries per sentence;
BAE's words proposed by the encoder itself). Writes ``data/values/robustness/<task>-<encoder>-clean.csv.gz`` (long
values: sub-network name, ``dev_accuracy`` / ``test_accuracy`` and per attack ``<attack>_clean_accuracy``,
``_attacked_accuracy``, ``_success_rate``, ``_perturbed_fraction``, ``_queries``; seconds) with its provenance: the encoder's and the
super-adapter's weight digests, the task's split digest, the space, the training settings and the commit.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import pandas as pd

from discover import values
from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.errors import DataError
from discover.robustness import superadapter as sa
from discover.robustness.attacks import Attack, attacked_examples, mlm_proposer, summarise
from discover.robustness.elastic import ElasticSpace, sample_subnetworks
from discover.text import TASKS, load_task, tokenizer
from discover.version import code_version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import code_commit  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "data" / "values" / "robustness"


def adapter_for(encoder: Path, task, tok, steps: int, threads: int):
    """The task's stored super-adapter when its card matches (base, task split, steps), else one trained now."""
    folder = models_dir() / f"lonas-{encoder.name}-{task.name}"
    base_digest = trained.weights_digest(encoder)
    base = trained.load_model(encoder, task="masked-lm")[0].base_model
    try:
        model, card = sa.load_super_adapter(folder, base, base_digest)
        if (card["task_digest"], card["training"]["steps"], card.get("adapter_version")) == \
                (task.digest, steps, sa.ADAPTER_VERSION):
            logging.info("%s: super-adapter kept (%s)", task.name, folder)
            return model, card
    except (DataError, KeyError):
        pass
    base = trained.load_model(encoder, task="masked-lm")[0].base_model
    model, card = sa.train_super_adapter(base, base_digest, task, tok, ElasticSpace(), steps=steps, threads=threads)
    sa.save_super_adapter(folder, model, card)
    logging.info("%s: super-adapter trained in %.0f s, dev accuracy %s", task.name, card["train_seconds"],
                 card["dev_accuracy"])
    return sa.load_super_adapter(folder, trained.load_model(encoder, task="masked-lm")[0].base_model, base_digest)


def clean_values(model, tok, task, subs) -> pd.DataFrame:
    """Dev and test accuracy of every sub-network, with the seconds each took."""
    rows = []
    for sub in subs:
        started = time.perf_counter()
        dev, test = sa.accuracy(model, tok, task.dev, sub), sa.accuracy(model, tok, task.test, sub)
        seconds = time.perf_counter() - started
        rows += [{"arch_id": sub.name, "proxy": "dev_accuracy", "value": dev, "seconds": seconds / 2},
                 {"arch_id": sub.name, "proxy": "test_accuracy", "value": test, "seconds": seconds / 2}]
    return pd.DataFrame(rows)


def attack_values(model, tok, task, subs, attacks, sentences: int) -> pd.DataFrame:
    """Each attack's summary (``attacks.summarise``) per sub-network on the same ``sentences`` test sentences,
    drawn by seed 0; the seconds are each sub-network's wall time for that attack."""
    chosen = attacked_examples(task.test, sentences, seed=0)
    rows = []
    for sub in subs:
        model.use(sub)
        victim = lambda texts: sa.predict(model, tok, texts)   # noqa: E731 - the active sub-network
        for attack in attacks:
            started = time.perf_counter()
            summary = summarise([attack.run(victim, e.text, e.label, e.key) for e in chosen])
            seconds = time.perf_counter() - started
            rows += [{"arch_id": sub.name, "proxy": f"{attack.name}_{metric}", "value": value,
                      "seconds": seconds / len(summary)} for metric, value in summary.items()]
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--encoder", default="roformer-6")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--steps", type=int, default=sa.TRAINING["steps"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attack-sentences", type=int, default=100,
                        help="test sentences attacked per sub-network (0: no attack)")
    parser.add_argument("--max-queries", type=int, default=200, help="victim queries per sentence and attack")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    encoder = models_dir() / args.encoder
    trained.read_card(encoder)   # one clear error when the encoder is not built
    tok = tokenizer()
    for name in args.tasks:
        task = load_task(name)
        model, card = adapter_for(encoder, task, tok, args.steps, args.threads)
        subs = sample_subnetworks(model.space, model.config, args.count, seed=0)
        started = time.perf_counter()
        table = clean_values(model, tok, task, subs)
        if args.attack_sentences:
            mlm = trained.load_model(encoder, task="masked-lm")[0]
            attacks = [Attack("deepwordbug", args.max_queries, seed=0),
                       Attack("bae", args.max_queries, proposer=mlm_proposer(mlm, tok), seed=0)]
            table = pd.concat([table, attack_values(model, tok, task, subs, attacks, args.attack_sentences)])
        meta = {"benchmark": f"lonas:{args.encoder}-{name}", "seed": 0, "encoder": args.encoder,
                "encoder_sha256": trained.weights_digest(encoder), "adapter": card, "count": args.count,
                "task_digest": task.digest,
                "attacks": [a.describe() for a in attacks] if args.attack_sentences else [],
                "attack_sentences": args.attack_sentences, "version": code_version(), "commit": code_commit(),
                "wall_seconds": round(time.perf_counter() - started, 1)}
        path, _ = values.write_values(table, args.output / f"{name}-{args.encoder}-clean.csv.gz", meta)
        test = table[table.proxy == "test_accuracy"].value
        logging.info("%s: %d sub-networks, test accuracy %.3f-%.3f (median %.3f) -> %s", name, len(subs), test.min(),
                     test.max(), test.median(), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
