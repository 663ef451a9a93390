"""Train the LoNAS super-adapter of each sentence task and store its sub-networks' robustness targets (issue #29).

    python experiments/robustness_subnets.py [--tasks sentence_polarity subjectivity] [--count 200] [--steps 600]
                                             [--attack-sentences 100] [--max-queries 200] [--jobs 2] [--remeasure]

The encoder is the robustness study's masked LM (``--encoder``, default ``roformer-6``: build it first with
``python experiments/build_reference_models.py roformer-6``). Per task: a super-adapter trained on the train split
(``superadapter.super_adapter_for``: kept in ``$ZC_DISCOVER_MODELS/lonas-<encoder>-<task>`` while its card matches
the request), then ``--count`` distinct sub-networks drawn by seed 0 (the largest and the smallest first), and for
each its targets (``discover.robustness.targets``): accuracy on the whole dev and test splits, and DeepWordBug's
and BAE-R's clean and attacked accuracy, success rate, perturbed fraction and queries on the same
``--attack-sentences`` test sentences (seed 0), ``--max-queries`` victim queries per sentence; BAE's words come
from the encoder itself. Writes ``data/values/robustness/<task>-<encoder>-targets.csv.gz`` (long values with the
seconds of each) and its provenance: the encoder's and the super-adapter's weight digests, the task's split
digest, the space, the training settings, the request and the commit.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from discover import values
from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.errors import ZcDiscoverError
from discover.robustness import superadapter as sa
from discover.robustness.elastic import sample_subnetworks
from discover.robustness.attacks import ATTACKS
from discover.robustness.targets import TargetRequest, check_request, measure_targets
from discover.text import TASKS, load_task, tokenizer
from discover.version import code_version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import code_commit  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "data" / "values" / "robustness"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--encoder", default="roformer-6")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--steps", type=int, default=sa.TRAINING["steps"])
    parser.add_argument("--threads", type=int, default=2, help="torch threads while a super-adapter trains")
    parser.add_argument("--jobs", type=int, default=2, help="processes measuring sub-networks (one thread each)")
    parser.add_argument("--attack-sentences", type=int, default=100,
                        help="test sentences attacked per sub-network (0: no attack)")
    parser.add_argument("--max-queries", type=int, default=200, help="victim queries per sentence and attack")
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS), metavar="A",
                        help=f"attacks to run (default: {' '.join(ATTACKS)})")
    parser.add_argument("--remeasure", action="store_true",
                        help="measure every sub-network again instead of reading back those already measured")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        return measure(args)
    except ZcDiscoverError as error:   # bad input: one line naming it, exit 2, nothing written
        print(f"robustness_subnets.py: error: {error}", file=sys.stderr)
        return 2


def measure(args: argparse.Namespace) -> int:
    """Check the whole request (attacks, budgets, encoder, every task's files) before training or writing anything,
    then measure each task."""
    encoder = models_dir() / args.encoder
    check_request(TargetRequest(str(encoder), "", args.tasks[0], attacks=tuple(args.attacks),
                                attack_sentences=args.attack_sentences, max_queries=args.max_queries))
    tasks = [load_task(name) for name in args.tasks]   # an altered corpus is refused before any training
    trained.read_card(encoder)   # one clear error when the encoder is not built
    tok = tokenizer()
    for name, task in zip(args.tasks, tasks):
        model, card, folder = sa.super_adapter_for(encoder, task, tok, steps=args.steps, threads=args.threads)
        subs = sample_subnetworks(model.space, model.config, args.count, seed=0)
        request = TargetRequest(str(encoder), str(folder), name, attacks=tuple(args.attacks),
                                attack_sentences=args.attack_sentences, max_queries=args.max_queries)
        started = time.perf_counter()
        table = measure_targets(request, [s.name for s in subs], jobs=args.jobs, resume=not args.remeasure)
        meta = {"benchmark": f"lonas:{args.encoder}-{name}", "seed": 0, "encoder": args.encoder,
                "encoder_sha256": trained.weights_digest(encoder), "adapter": card, "count": args.count,
                "task_digest": task.digest, "request": request.describe(), "jobs": args.jobs,
                "version": code_version(), "commit": code_commit(),
                "wall_seconds": round(time.perf_counter() - started, 1), "read_back": table.attrs["read_back"]}
        path, _ = values.write_values(table, args.output / f"{name}-{args.encoder}-targets.csv.gz", meta)
        test = table[table.proxy == "test_accuracy"].value
        logging.info("%s: %d sub-networks in %.0f s, test accuracy %.3f-%.3f (median %.3f) -> %s", name, len(subs),
                     meta["wall_seconds"], test.min(), test.max(), test.median(), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
