"""Discovery within NAS-Bench-BERT, held out: the search over weight features and over weight and data features,
beside the hand-designed proxies and the counts on the same models.

    python experiments/discovery_results.py [--jobs 2] [--seed 0] [-o results/discovery]

For each FlexiBERT builder: a default 5-fold search (held-out mean and spread over folds, size-matched Kendall,
partial Spearman), the final formula scored unchanged on lts-gpt2-wt103, and the hand-designed proxies on all 500;
on the as-trained reading also the search with the activation features (``--with-activations``, read from the stored
values) and a search trained on a seeded random half of the architectures and scored on the other half. Writes
docs/tables/discovery-bert.md.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from discover import ProxySearch, load_benchmark, score_proxy
from report import write_table


def cell(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="results/discovery")
    args = parser.parse_args()
    bert, gpt2 = load_benchmark("nas-bench-bert"), load_benchmark("lts-gpt2-wt103")
    out = Path(args.output)
    lines = ["| builder | proxy | held-out Kendall | Spearman | size-matched Kendall | partial Spearman | "
             "transfer to GPT-2 Kendall | formula |", "|---|---|---|---|---|---|---|---|"]
    runs = [(b, False) for b in ("as-trained", "spec", "legacy")] + [("as-trained", True)]
    for builder, data in runs:
        run = ProxySearch(seed=args.seed, folds=5, transfer=[gpt2], builder=builder, jobs=args.jobs,
                          with_activations=data, output=out / (builder + ("-data" if data else "")),
                          force=True).fit(bert).run_
        held = run.metrics["heldout"]["nas-bench-bert"]
        moved = run.metrics["transfer"]["lts-gpt2-wt103"]
        label = "discovered, weights + data (5-fold)" if data else "discovered, weights (5-fold)"
        lines.append(f"| {builder} | **{label}** | **{cell(held['kendall'])} +- {cell(held['kendall_std'])}** | "
                     f"{cell(held['spearman'])} | {cell(held['kendall_size_matched'])} | "
                     f"{cell(held['partial_spearman'])} | {cell(moved['kendall'])} | `{run.formula}` |")
        if data:
            continue
        for proxy in ("zerolm", "nsc", "params", "params_attention", "flops"):
            full = score_proxy(bert, proxy, builder=builder, seed=args.seed, n_jobs=args.jobs)
            lines.append(f"| {builder} | {proxy} (all 500) | {cell(full['kendall'])} | {cell(full['spearman'])} | "
                         f"{cell(full['kendall_size_matched'])} | {cell(full['partial_spearman'])} | | |")
    ids = [a.id for a in bert.archs]
    random.Random(args.seed).shuffle(ids)
    half = sorted(ids[: len(ids) // 2], key=int)
    run = ProxySearch(seed=args.seed, train_ids=half, jobs=args.jobs, output=out / "half", force=True).fit(bert).run_
    held = run.metrics["heldout"]["nas-bench-bert"]
    lines.append(f"| as-trained | discovered on a random half, scored on the other | {cell(held['kendall'])} | "
                 f"{cell(held['spearman'])} | {cell(held['kendall_size_matched'])} | "
                 f"{cell(held['partial_spearman'])} | | `{run.formula}` |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_table("discovery-bert", text, "experiments/discovery_results.py",
                f"Searches: population 200, 25 generations, seed {args.seed}; zerolm's alpha fitted on 50 of the 500.")


if __name__ == "__main__":
    main()
