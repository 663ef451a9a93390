"""LPZero measured its GPT-2 models in training mode: what does that dropout do to the agreement with its values?

    python experiments/dropout.py [--limit 40] [--proxies lpzero_synflow eznas grasp ...] [--seeds 1 2 3] [--jobs 2]
        [--device cuda] [-o TABLE.md]

LPZero's ``load_model_from_config`` returns a model in training mode and no measure calls ``eval()``, so each GPT-2
column was computed with the configs' ``dropout: 0.1`` active - as GPT-2's residual dropout, after each attention and
MLP output projection (``dropatt`` 0.0 is its attention dropout; its embedding dropout keeps HfGPT2Flex's default 0).
The project's models have no dropout. This re-scores proxies on the first ``--limit`` GPT-2 wt103 models with seeded
dropout masks at those sites (forward hooks on each ``c_proj``; the synflow passes' |weights| copies keep the hooks),
and prints, per dropout seed and without dropout, each proxy's Spearman agreement with the released column and its
Spearman with -ppl (and writes the summary to ``-o``). GraSP's two passes (the task gradient g, then a second forward
whose gradient is differentiated against g) each draw their own masks, as LPZero's two passes did.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
import torch
from joblib import Parallel, delayed
from scipy import stats

from discover import load_benchmark
from discover.benchmarks.catalog import build_model
from discover.probing import ProbeSettings
from discover.proxies import PROXIES
from discover.reference import align_reference, read_reference
from fidelity import GPT2_COLUMNS

RELEASED = {proxy: column for column, proxies in GPT2_COLUMNS.items() for proxy in proxies[:1]}


def residual_dropout(model, rate: float, seed: int) -> None:
    """GPT-2's residual dropout at ``rate`` after every output projection, from a seeded generator."""
    generator = torch.Generator().manual_seed(seed)

    def drop(_, __, output):
        # drawn on the CPU whatever the model's device, so that a seed gives the same masks on a GPU
        keep = (torch.rand(output.shape, generator=generator) >= rate).to(output.device)
        return output * keep / (1 - rate)
    for block in model.blocks:
        block.attn.c_proj.register_forward_hook(drop)
        block.mlp.c_proj.register_forward_hook(drop)


def scores(bench, arch_id: str, proxies: list[str], rate: float, seed: int, device: str = "cpu") -> dict:
    arch = bench.arch(arch_id)
    model = build_model(bench, arch, seed=0, device=device)
    if rate:
        residual_dropout(model, rate, seed)
    run = ProbeSettings().probe(model, bench.family, arch.config, seed=0,
                                passes={p for name in proxies for p in PROXIES[name].passes})
    return {"arch_id": arch_id, **{p: PROXIES[p].function(run) for p in proxies}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--proxies", nargs="+", default=["lpzero_synflow", "eznas", "lpzero_jacobian_cosine"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--without-baseline", action="store_true",
                        help="skip the pass without dropout (its values are the plain probe's, e.g. a values file's)")
    parser.add_argument("-o", "--output", type=Path, help="also write the summary table (Markdown) here")
    parser.add_argument("--reference", type=Path,
                        default=Path(os.environ.get("ZC_DISCOVER_DATA", "../shared/benchmarks")).parent / "reference"
                        / "lpzero" / "random_GPT2_wt103")
    args = parser.parse_args()
    unknown = [p for p in args.proxies if p not in RELEASED]
    if unknown:
        raise SystemExit(f"no released GPT-2 column for {unknown}; choose from {sorted(RELEASED)}")
    bench = load_benchmark("lts-gpt2-wt103")
    released = align_reference(read_reference(args.reference), bench,
                               sorted({RELEASED[p] for p in args.proxies}))[: args.limit]
    ids = released["arch_id"].tolist()
    target = [bench.arch(i).target for i in ids]
    rows = []
    for rate, seed in ([] if args.without_baseline else [(0.0, 0)]) + [(args.rate, s) for s in args.seeds]:
        table = pd.DataFrame(Parallel(n_jobs=args.jobs)(
            delayed(scores)(bench, i, args.proxies, rate, seed + k, args.device) for k, i in enumerate(ids)))
        for p in args.proxies:
            rows.append({"dropout": rate, "seed": seed, "proxy": p, "released": RELEASED[p],
                         "agreement": stats.spearmanr(released[RELEASED[p]], table[p]).statistic,
                         "released_vs_quality": stats.spearmanr(released[RELEASED[p]], target).statistic,
                         "ours_vs_quality": stats.spearmanr(table[p], target).statistic})
        print(pd.DataFrame(rows[-len(args.proxies):]).to_markdown(index=False, floatfmt=".3f"), flush=True)
    summary = pd.DataFrame(rows).pivot_table(index="proxy", columns=["dropout", "seed"],
                                             values=["agreement", "ours_vs_quality"]).round(3).to_markdown()
    print(summary)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(f"first {len(ids)} GPT-2 wt103 models, device {args.device}, dropout {args.rate}\n\n"
                               + pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f") + "\n\n" + summary + "\n")


if __name__ == "__main__":
    main()
