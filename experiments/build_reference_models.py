"""Train the reference language models of the pruning spaces and write their folders (safetensors + card).

    python experiments/build_reference_models.py [NAME ...] [--steps N] [--device cpu|cuda] [--force]

The names: the pruning spaces' decoders (default: all of them) and the robustness study's masked-LM encoder
(``bert-6`` or ``roformer-6``, built only when named).

Each model goes to ``$ZC_DISCOVER_MODELS/<name>`` (default: the per-user cache); a folder whose card matches the
requested settings is kept. The card records the losses and the wall time; ``--table`` writes
docs/tables/reference-models.md from the cards.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.benchmarks.pruning.reference import (ENCODER_MODELS, REFERENCE_MODELS, TRAINING, reference_config,
                                                   train_reference, training_settings)
from discover.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_table  # noqa: E402


CAPTION = ("Reference models, trained on the train split of the English text (batch 16 x 128 tokens, AdamW lr 1e-3, "
           "seed 0); losses in nats per token (next-token cross-entropy), held-out on the whole held-out split.")
ENCODER_CAPTION = ("The robustness study's encoder, trained on the train split of the English text by masked-token "
                   "prediction (15% of positions, a seeded mask per step; batch 16 x 128 tokens, AdamW lr 3e-4, seed "
                   "0); held-out loss: masked-token cross-entropy in nats on the whole held-out split with one fixed "
                   "mask; the unigram loss (no context at all) is its floor.")


def card_vocab(folder: Path) -> int:
    """The vocabulary size of a built model (its config), which the settings do not depend on but the config needs."""
    return int(trained.read_config(folder)["vocab_size"])


def card_rows(root: Path, names: list[str]) -> list[str]:
    """The table rows of the built models ``names`` (their cards and parameter counts)."""
    rows = ["| model | family | layers | parameters | steps | train loss | held-out loss | unigram loss | train time |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        card = trained.read_card(root / name)
        model, config = trained.load_model(root / name)
        layers = config.get("num_hidden_layers", config.get("n_layer"))
        rows.append(f"| {name} | {card.family} | {layers} | {sum(p.numel() for p in model.parameters()):,} | "
                    f"{card.steps} | {card.train_loss:.3f} | {card.heldout_loss:.3f} | {card.unigram_loss:.3f} "
                    f"| {card.train_seconds / 60:.1f} min ({card.threads} threads, {card.device}) |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # checked below, not by ``choices``: Python 3.11's argparse checks an empty nargs="*" (or its list default)
    # against the choices as one value and refuses the documented default
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"reference models, of {', '.join([*REFERENCE_MODELS, *ENCODER_MODELS])} "
                             "(default: the pruning spaces' decoders)")
    parser.add_argument("--steps", type=int, default=TRAINING["steps"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="train again even where a matching folder exists")
    parser.add_argument("--table", action="store_true", help="write docs/tables/reference-models.md from the cards")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - {*REFERENCE_MODELS, *ENCODER_MODELS})
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; choose from {', '.join([*REFERENCE_MODELS, *ENCODER_MODELS])}")
    args.names = args.names or list(REFERENCE_MODELS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = models_dir()
    for name in args.names:
        folder = root / name
        try:
            card = trained.read_card(folder)
            wanted = training_settings(reference_config(name, card_vocab(folder)), args.steps)
            if not args.force and (card.steps, card.lr) == (wanted["steps"], wanted["lr"]) and \
                    trained.weights_digest(folder) == card.weights_sha256:
                logging.info("%s: kept (%s)", name, folder)
                continue
        except DataError:
            pass
        card = train_reference(name, folder, steps=args.steps, device=args.device, threads=args.threads)
        logging.info("%s: held-out loss %.3f (unigram %.3f), %.0f s", name, card["heldout_loss"],
                     card["unigram_loss"], card["train_seconds"])
    if args.table:   # the decoders' table (all must be built); the encoder's own, where it is built
        write_table("reference-models", CAPTION + "\n\n" + "\n".join(card_rows(root, list(REFERENCE_MODELS))),
                    "experiments/build_reference_models.py --table")
    encoders = [name for name in ENCODER_MODELS if (root / name / "card.json").is_file()]
    if encoders and (args.table or set(args.names) & set(ENCODER_MODELS)):
        write_table("reference-encoder", ENCODER_CAPTION + "\n\n" + "\n".join(card_rows(root, encoders)),
                    "experiments/build_reference_models.py " + " ".join(encoders))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
