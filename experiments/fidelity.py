"""Do our data-dependent proxies compute what the published ones computed? Agreement with LPZero's released values.

    python experiments/fidelity.py [--only gpt2|bert] [--limit N] [--jobs 2] [--values FILE.csv ...]
        [--batch B --seq S --tokens uniform|zipf --text FILE --gradient task|ones --seed K]
    python experiments/fidelity.py --only bert --limit 100 --variants [VARIANT ...] [--text FILE]

For every released column: the Spearman between our per-architecture value and the released one, on the builder that
matches the released models (legacy for NAS-Bench-BERT, GPT-2 wt103), next to each side's correlation with trained
quality. Keys are matched exactly (a missing or extra key, or a value that is not finite, is an error). Our values
come from the stored values of every architecture (``data/values``; anything missing or stale is probed), or from values files (``--values``: ``zc-discover probe`` output, perhaps from another machine).

``--variants`` changes one probe choice at a time (init seed, batch size, sequence length, token distribution, a text,
the gradient source) and prints each one's agreement per released column: how much each choice moves it.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from discover import featurize, load_benchmark
from discover.metrics import paired_difference
from discover.probing import ProbeSettings
from discover.proxies import data_proxy_table, proxy_values, ProxyContext
from discover.reference import align_reference, read_reference
from discover.values import read_values, values_of
from report import write_table

# released column -> our proxies: first the definition the released code computes, then (where it differs) the one the
# paper describes, for contrast (see the proxy modules' docstrings)
GPT2_COLUMNS = {"activation_distance": ("lpzero_activation_distance", "activation_distance"),
                "attention_confidence": ("lpzero_attention_confidence", "attention_confidence"),
                "head_confidence": ("lpzero_attention_confidence",), "eznas": ("eznas",),
                "fisher": ("lpzero_fisher", "fisher"), "grad_norm": ("grad_norm",), "grasp": ("grasp",),
                "head_importance": ("lpzero_head_importance", "head_importance"),
                "jacobian_cosine": ("lpzero_jacobian_cosine", "jacob_cov"),
                "logsynflow": ("lpzero_logsynflow", "logsynflow"), "lpzero": ("lpzero",),
                "num_parameters": ("params_total",), "snip": ("snip",), "synaptic_diversity": ("synaptic_diversity",),
                "synaptic_saliency": ("snip",), "synflow": ("lpzero_synflow", "synflow")}
# the released BERT lpzero column is LPZero's BERT genotype (proxies/data/lpzero_bert.py), not its GPT-2 one
BERT_COLUMNS = {"Synaptic Diversity": ("synaptic_diversity",), "Synaptic Saliency": ("snip",),
                "Activation Distance": ("activation_distance",), "Jacobian Score": ("jacob_cov",),
                "Number of Parameters": ("params_total",), "Head Importance": ("head_importance",),
                "Head Confidence": ("tfnas_head_confidence",),
                "Head Softmax Confidence": ("tfnas_head_softmax_confidence",), "lpzero": ("lpzero_bert",),
                "Activation Distance per model": ("tfnas_activation_distance",)}


def activation_distance_per_model(released: pd.DataFrame, bench) -> pd.Series:
    """The released Activation Distance without its hook count: the released value is (per-model value) x (hooks
    piled on the shared GELU module), and "Normalized" divides it by hooks x GELU calls, so the per-model value is
    Normalized x GELU calls (one GELU call per stacked FFN dense layer)."""
    calls = [sum(layer["num_feed_forward"] for layer in bench.arch(i).config["layers"]) for i in released["arch_id"]]
    return released["Activation Distance Normalized"] * calls


# released columns computed from others (name -> (the columns they need, function(released, bench)))
DERIVED = {"Activation Distance per model": (["Activation Distance Normalized"], activation_distance_per_model)}
SETS = {"gpt2": ("lts-gpt2-wt103", None, "random_GPT2_wt103", GPT2_COLUMNS),
        "bert": ("nas-bench-bert", "legacy", "BERT_results_activation_lpzero.csv", BERT_COLUMNS)}


def variants(text: str | None) -> dict[str, tuple[str, int, ProbeSettings]]:
    """One probe choice changed at a time: key -> (label, init seed, settings)."""
    rows = {"default": ("default (seed 0, uniform tokens, task loss)", 0, ProbeSettings()),
            "seed1": ("init seed 1", 1, ProbeSettings()), "seed2": ("init seed 2", 2, ProbeSettings()),
            "batch4": ("batch 4", 0, ProbeSettings(batch=4)), "batch64": ("batch 64", 0, ProbeSettings(batch=64)),
            "seq512": ("seq 512", 0, ProbeSettings(seq=512)), "zipf": ("Zipf tokens", 0, ProbeSettings(tokens="zipf")),
            "ones": ("ones gradient", 0, ProbeSettings(gradient="ones"))}
    if text:
        rows["text"] = (f"text {Path(text).name}", 0, ProbeSettings(text=text))
    return rows


def read_ours(paths: list[Path], bench, builder: str | None, names: list[str], ids: list[str]) -> pd.DataFrame:
    """Our values from long values files (arch_id, proxy, value, ...): every (id, proxy) must be there."""
    values = read_values(paths, {"benchmark": bench.name, "builder": bench.family.builder(builder)})
    return pd.DataFrame({"arch_id": ids, **{n: values_of(values, n, ids)[0] for n in names}})


def ours(bench, builder: str | None, names: list[str], jobs: int, ids: list[str], seed: int,
         settings: ProbeSettings, values: list[Path]) -> pd.DataFrame:
    """Our values of ``names`` on ``ids`` (probe proxies from values files or the cache, table proxies from
    features)."""
    probe = [n for n in names if n != "params_total"]
    if values:
        table = read_ours(values, bench, builder, probe, ids)
    else:
        table = data_proxy_table(bench, probe, builder, seed, n_jobs=jobs, ids=ids, settings=settings)
        table = table[["arch_id", *probe]]
    if "params_total" in names:
        features = featurize(bench, builder, n_jobs=jobs).set_index("arch_id").loc[ids].reset_index()
        ctx = ProxyContext(bench, features, bench.family.builder(builder))
        table["params_total"] = proxy_values(ctx, "params_total").scores
    return table


def agreement(key: str, reference_root: Path, jobs: int, without: list[str], limit: int | None, seed: int = 0,
              settings: ProbeSettings = ProbeSettings(), values: list[Path] = ()) -> list[dict]:
    name, builder, relative, columns = SETS[key]
    columns = {c: kept for c, p in columns.items() if (kept := tuple(n for n in p if n not in without))}
    bench = load_benchmark(name)
    # every key is matched on the whole benchmark; --limit then compares the first N architectures only
    derived = {c: DERIVED[c] for c in columns if c in DERIVED}
    needed = [c for c in columns if c not in derived] + [n for need, _ in derived.values() for n in need]
    released = align_reference(read_reference(reference_root / relative), bench, list(dict.fromkeys(needed)))[:limit]
    for column, (_, function) in derived.items():
        released[column] = function(released, bench)
    ids = released["arch_id"].tolist()
    mine = ours(bench, builder, sorted({p for proxies in columns.values() for p in proxies}), jobs, ids, seed,
                settings, list(values))
    target = [bench.arch(i).target for i in ids]
    rows = []
    for column, proxy in ((c, p) for c, proxies in columns.items() for p in proxies):
        theirs, values_ = released[column].to_numpy(float), mine[proxy].to_numpy(float)
        rows.append({"benchmark": f"{name} ({builder or 'as-trained'}, {len(ids)} archs)", "released": column,
                     "ours": proxy,
                     "agreement": stats.spearmanr(theirs, values_, nan_policy="omit").statistic,
                     "released_vs_quality": stats.spearmanr(theirs, target).statistic,
                     "ours_vs_quality": stats.spearmanr(values_, target, nan_policy="omit").statistic,
                     **quality_gap(theirs, values_, target)})
    return rows


def quality_gap(theirs, ours_, target) -> dict:
    """Released minus our Spearman with quality, and its 95% interval by a paired bootstrap over the architectures
    (``metrics.paired_difference``): an interval that holds 0 is a gap the sampling of architectures could make."""
    keep = np.isfinite(ours_)
    if keep.sum() < 10:
        return {"quality_gap": np.nan, "gap_low": np.nan, "gap_high": np.nan}
    gap = paired_difference(theirs[keep], ours_[keep], np.asarray(target, float)[keep], "spearman")
    return {"quality_gap": gap["difference"], "gap_low": gap["low"], "gap_high": gap["high"]}


def variant_table(key: str, args) -> pd.DataFrame:
    """Agreement per released column (rows) under each one-choice variant (columns)."""
    table = {}
    chosen = variants(args.text)
    unknown = [k for k in args.variants if k not in chosen]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {list(chosen)} (text needs --text)")
    for label, seed, settings in (chosen[k] for k in args.variants or chosen):
        rows = agreement(key, args.reference, args.jobs, args.without, args.limit, seed, settings)
        table[label] = {f"{r['released']} ({r['ours']})": r["agreement"] for r in rows
                        if r["ours"] != "params_total"}
    return pd.DataFrame(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference", type=Path,
                        default=Path(os.environ.get("ZC_DISCOVER_DATA", "../shared/benchmarks")).parent / "reference"
                        / "lpzero")
    parser.add_argument("--only", choices=list(SETS))
    parser.add_argument("--without", nargs="+", default=[], metavar="PROXY",
                        help="leave these proxies out (e.g. grasp: its extra pass is a third of GPT-2's probe time)")
    parser.add_argument("--limit", type=int, help="compare only the first N architectures (GPT-2 probes take ~20 s "
                                                     "each per core)")
    parser.add_argument("--values", nargs="+", type=Path, default=[], metavar="CSV",
                        help="read our values from these files (zc-discover probe -o) instead of probing")
    parser.add_argument("--seed", type=int, default=0, help="initialisation (and probe batch) seed")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--seq", type=int)
    parser.add_argument("--tokens", default="uniform", choices=["uniform", "zipf"])
    parser.add_argument("--text", help="a text file to probe with (with --variants: one more variant)")
    parser.add_argument("--gradient", default="task", choices=["task", "ones"])
    parser.add_argument("--variants", nargs="*", metavar="VARIANT",
                        help="one probe choice changed at a time: all, or these (default seed1 seed2 batch4 batch64 "
                             "seq512 zipf ones text)")
    args = parser.parse_args()
    keys = [args.only] if args.only else list(SETS)
    if args.variants is not None:
        for key in keys:
            print(f"\n{key}: Spearman agreement with the released values, one choice changed at a time\n")
            print(variant_table(key, args).to_markdown(floatfmt=".3f"))
        return
    settings = ProbeSettings(args.batch, args.seq, args.tokens, args.text, args.gradient)
    default = settings == ProbeSettings() and args.seed == 0 and not args.limit and not args.values
    for key in keys:
        rows = agreement(key, args.reference, args.jobs, args.without, args.limit, args.seed, settings, args.values)
        text = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f") + "\n"
        print(f"\n{key}\n\n{text}")
        if default:   # the documentation's table: every architecture, the default probe
            write_table(f"fidelity-{key}", text, "experiments/fidelity.py",
                        "Ours: the stored values of every architecture (data/values; default probe, seed 0). "
                        "quality_gap: released minus ours Spearman with quality, with its 95% paired-bootstrap "
                        "interval over the architectures.")


if __name__ == "__main__":
    main()
