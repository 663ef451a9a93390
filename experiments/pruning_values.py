"""Measure every pruning space of every reference model and store it under data/values/pruning.

    python experiments/pruning_values.py [--models llama-8 gpt2-8 llama-12] [--kinds depth heads ffn] [--wait]

Each space: every candidate's held-out loss (the target), calibration loss and weight features, and the reference
model's unit statistics (``discover.pruning.space_values``). Resumable; a stored space whose provenance matches is
kept. ``--wait`` waits for a model folder that is still being built (experiments/build_reference_models.py).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from discover.benchmarks.pruning.models import models_dir, wait_for_model
from discover.errors import DataError
from discover.pruning.space_values import compute_space, read_space, request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import pruning_arguments  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    pruning_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for kind in args.kinds:
        for name in args.models:
            folder = models_dir() / name
            if args.wait:
                wait_for_model(folder)
            req = request(folder, kind)
            try:
                read_space(name, kind, expected=req)
                logging.info("%s %s: stored space kept", name, kind)
                continue
            except DataError as why:
                logging.info("%s %s: computing (%s)", name, kind, str(why)[:120])
            _, _, provenance = compute_space(folder, kind, threads=args.threads)
            logging.info("%s %s: %d candidates in %.0f s", name, kind, provenance["candidates"],
                         provenance["wall_seconds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
