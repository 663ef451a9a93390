"""The README's headline table: discovered proxies on nas-bench-bert, held out, and transferred to GPT-2.

    python experiments/discovery_results.py [--jobs 2] [--seed 0] [-o results/discovery]

For each FlexiBERT builder: a default 5-fold search (held-out mean and spread over folds), transfer of the final
formula to lts-gpt2-wt103, and the same hand-designed proxies on the same models; then a search trained on a seeded
random half of the architectures and scored on the other half.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from discover import ProxySearch, load_benchmark, score_proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="results/discovery")
    args = parser.parse_args()
    bert, gpt2 = load_benchmark("nas-bench-bert"), load_benchmark("lts-gpt2-wt103")
    out = Path(args.output)
    print("| builder | proxy | held-out Kendall | Spearman | Kendall iso-params | transfer to GPT-2 Kendall | formula |")
    print("|---|---|---|---|---|---|---|")
    for builder in ("as-trained", "spec", "legacy"):
        run = ProxySearch(seed=args.seed, folds=5, transfer=[gpt2], builder=builder, jobs=args.jobs,
                          output=out / builder, force=True).fit(bert).run_
        held = run.metrics["heldout"]["nas-bench-bert"]
        moved = run.metrics["transfer"]["lts-gpt2-wt103"]
        print(f"| {builder} | discovered (5-fold) | {held['kendall']:.3f} +- {held['kendall_std']:.3f} | "
              f"{held['spearman']:.3f} | {held['kendall_iso_params']:.3f} | {moved['kendall']:.3f} | "
              f"`{run.formula}` |")
        for proxy in ("zerolm", "nsc", "params"):
            full = score_proxy(bert, proxy, builder=builder, seed=args.seed, n_jobs=args.jobs)
            print(f"| {builder} | {proxy} (all 500) | {full['kendall']:.3f} | {full['spearman']:.3f} | "
                  f"{full['kendall_iso_params']:.3f} | | |")
    ids = [a.id for a in bert.archs]
    random.Random(args.seed).shuffle(ids)
    half = sorted(ids[: len(ids) // 2], key=int)
    run = ProxySearch(seed=args.seed, train_ids=half, jobs=args.jobs, output=out / "half", force=True).fit(bert).run_
    held = run.metrics["heldout"]["nas-bench-bert"]
    print(f"| as-trained | discovered on a random half, scored on the other | {held['kendall']:.3f} | "
          f"{held['spearman']:.3f} | {held['kendall_iso_params']:.3f} | | `{run.formula}` |")


if __name__ == "__main__":
    main()
