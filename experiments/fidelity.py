"""Do our data-dependent proxies compute what the published ones computed? Agreement with LPZero's released values.

    python experiments/fidelity.py [--jobs 2] [--reference ../shared/reference/lpzero] [--only gpt2|bert]

For every released column: the Spearman between our per-architecture value and the released one, on the builder that
matches the released models (legacy for NAS-Bench-BERT, GPT-2 wt103), next to each side's correlation with trained
quality. Keys are matched exactly (a missing or extra key, or a value that is not finite, is an error). Our values
come from the probe cache (``experiments/data_proxies.py`` fills it; from an empty cache this probes every
architecture: about 17 minutes for legacy NAS-Bench-BERT and 40 for GPT-2 on two cores).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from scipy import stats

from discover import featurize, load_benchmark
from discover.proxies import data_proxy_table, proxy_values, ProxyContext
from discover.reference import align_reference, read_reference

# released column -> our proxy (the definition each names; see the proxy modules' docstrings)
GPT2_COLUMNS = {"activation_distance": "activation_distance", "attention_confidence": "attention_confidence",
                "head_confidence": "attention_confidence", "eznas": "eznas", "fisher": "fisher",
                "grad_norm": "grad_norm", "grasp": "grasp", "head_importance": "head_importance",
                "jacobian_cosine": "jacob_cov", "logsynflow": "logsynflow", "lpzero": "lpzero",
                "num_parameters": "params_total", "snip": "snip", "synaptic_diversity": "synaptic_diversity",
                "synaptic_saliency": "snip", "synflow": "synflow"}
BERT_COLUMNS = {"Synaptic Diversity": "synaptic_diversity", "Synaptic Saliency": "snip",
                "Activation Distance": "activation_distance", "Jacobian Score": "jacob_cov",
                "Number of Parameters": "params_total", "Head Importance": "head_importance",
                "Head Confidence": "head_softmax_confidence", "Head Softmax Confidence": "attention_confidence",
                "lpzero": "lpzero"}
SETS = {"gpt2": ("lts-gpt2-wt103", None, "random_GPT2_wt103", GPT2_COLUMNS),
        "bert": ("nas-bench-bert", "legacy", "BERT_results_activation_lpzero.csv", BERT_COLUMNS)}


def ours(bench, builder: str | None, names: list[str], jobs: int, ids: list[str]) -> pd.DataFrame:
    """Our values of ``names`` on ``ids`` (probe proxies from the cache, table proxies from features)."""
    probe = [n for n in names if n != "params_total"]
    table = data_proxy_table(bench, probe, builder, n_jobs=jobs, ids=ids)[["arch_id", *probe]]
    if "params_total" in names:
        features = featurize(bench, builder, n_jobs=jobs).set_index("arch_id").loc[ids].reset_index()
        ctx = ProxyContext(bench, features, bench.family.builder(builder))
        table["params_total"] = proxy_values(ctx, "params_total").scores
    return table


def agreement(key: str, reference_root: Path, jobs: int, without: list[str], limit: int | None) -> list[dict]:
    name, builder, relative, columns = SETS[key]
    columns = {c: p for c, p in columns.items() if p not in without}
    bench = load_benchmark(name)
    # every key is matched on the whole benchmark; --limit then compares the first N architectures only
    released = align_reference(read_reference(reference_root / relative), bench, list(columns))[:limit]
    ids = released["arch_id"].tolist()
    mine = ours(bench, builder, sorted(set(columns.values())), jobs, ids)
    target = [bench.arch(i).target for i in ids]
    rows = []
    for column, proxy in columns.items():
        theirs, values = released[column].to_numpy(float), mine[proxy].to_numpy(float)
        rows.append({"benchmark": f"{name} ({builder or 'as-trained'}, {len(ids)} archs)", "released": column,
                     "ours": proxy,
                     "agreement": stats.spearmanr(theirs, values, nan_policy="omit").statistic,
                     "released_vs_quality": stats.spearmanr(theirs, target).statistic,
                     "ours_vs_quality": stats.spearmanr(values, target, nan_policy="omit").statistic})
    return rows


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
    args = parser.parse_args()
    rows = [row for key in ([args.only] if args.only else list(SETS))
            for row in agreement(key, args.reference, args.jobs, args.without, args.limit)]
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
