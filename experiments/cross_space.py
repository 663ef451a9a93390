"""One comparison across every shipped space, on every architecture: the discovered formulas, LPZero, EZNAS, ZeroLM,
NSC and the size counts.

    python experiments/cross_space.py [--jobs 2] [-o results/cross_space]

``zc-discover compare`` on each benchmark (NAS-Bench-BERT as trained and with the legacy builder, GPT-2 wt103, both
Transformer-XL folders), every architecture, the data-dependent methods read from the stored values
(``data/values``, written by experiments/probe_all.py; a method whose stored values are missing or stale is probed).
The discovered formulas are the README's main job (``zc-discover search nas-bench-bert``, default settings) and the
same search over weight and data features (``--with-activations``): on NAS-Bench-BERT (as trained) their 5-fold
held-out Kendall is reported (the figure on all 500 would include their training folds), elsewhere they are scored
unchanged. Each method's Kendall minus the best count's on that space comes with a 95% paired-bootstrap interval over
the architectures, so a difference the sampling of architectures could make is told apart from a real one.

Writes docs/tables/cross-space.md (Kendall and size-matched Kendall), docs/tables/cross-space-gaps.md (the
differences from the best count) and docs/tables/cross-space-cost.md (seconds per architecture), and each space's
compare report under the output folder.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from discover import ProxySearch, compare, load_benchmark
from discover.comparison import compare_provenance, write_report
from discover.metrics import paired_difference
from discover.probing import ProbeSettings
from discover.proxies.weights import COUNT_PROXIES
from discover.runs import load_run
from discover.version import code_version
from report import update_readme, write_table

# the supervised references last: regressions on the config fields, scored by 5-fold cross-validated predictions
METHODS = ["lpzero", "lpzero_bert", "eznas", "zerolm", "nsc", *COUNT_PROXIES, "config_linear", "config_gbr"]
SPACES = [("nas-bench-bert", "as-trained"), ("nas-bench-bert", "legacy"), ("lts-gpt2-wt103", None),
          ("lts-txl-wt103", None), ("lts-txl-wt103-homogeneous", None)]
SHORT = {"nas-bench-bert (as-trained)": "BERT", "nas-bench-bert (legacy)": "BERT legacy", "lts-gpt2-wt103": "GPT-2",
         "lts-txl-wt103": "TXL", "lts-txl-wt103-homogeneous": "TXL-homog"}
# The published search costs, quoted (figures we did not measure)
QUOTED = {
    "EZNAS search": "about 24 hours on an Intel Xeon Gold 6242 CPU with 1 TB of RAM per search (Akhauri et al., "
                    "NeurIPS 2022, hardware statement)",
    "LPZero search": "its released search script's defaults (lpzero/runner/evo_search_bert.py: popu_size 80, "
                     "iterations 1000, num_sample 50) build and probe 50 BERT models for each new candidate: about "
                     "54,000 model probes per search (counted from the code; no wall time is published)",
}


def discovered_run(folder: Path, jobs: int, with_activations: bool):
    """A default search of NAS-Bench-BERT (reused when its folder was finished by this code)."""
    if (folder / "metrics.json").is_file() and load_run(folder).config.get("versions", {}).get("code") == \
            code_version():
        return load_run(folder)
    resume = (folder / "config.json").is_file() and not (folder / "metrics.json").is_file()
    ProxySearch(jobs=jobs, output=folder, resume=resume, force=not resume and folder.exists(),
                with_activations=with_activations).fit("nas-bench-bert")
    return load_run(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, default=Path("results/cross_space"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/tables")
    args = parser.parse_args()
    runs = {"discovered (weights)": discovered_run(args.output / "search-nas-bench-bert", args.jobs, False),
            "discovered (weights + data)": discovered_run(args.output / "search-nas-bench-bert-data", args.jobs, True)}
    rows, gaps, cost, sizes = {}, {}, {}, {}
    for name, builder in SPACES:
        bench = load_benchmark(name)
        column = SHORT[f"{name} ({builder})" if builder else name]
        report = compare(bench, METHODS, builder=builder, n_jobs=args.jobs, runs=list(runs.values()))
        folder = args.output / column.replace(" ", "_")
        write_report(report, folder, compare_provenance(bench, builder, 0, ProbeSettings(), "cpu", report,
                                                        list(runs.values())), plots=False)
        sizes[column] = len(report.attrs["arch_ids"])
        target = np.asarray(report.attrs["target"], float)
        label = {f"discovered:{run.path.name}": key for key, run in runs.items()}
        scores = {label.get(k, k): np.asarray(v, float) for k, v in report.attrs["scores"].items()}
        by_proxy = {label.get(row.proxy, row.proxy): row for _, row in report.iterrows()}
        best = max(COUNT_PROXIES, key=lambda p: (by_proxy[p].kendall, p))
        for method, row in by_proxy.items():
            kendall, matched = row.kendall, row.kendall_size_matched
            heldout = column == "BERT" and method.startswith("discovered")
            if heldout:   # the searched space: held-out folds only
                kendall = row.heldout_kendall
            rows.setdefault(method, {})[column] = (kendall, matched, heldout, method == best)
            cost.setdefault(method, {})[column] = row.seconds_per_arch
            if method != best and not heldout and np.isfinite(scores[method]).all():
                gap = paired_difference(scores[method], scores[best], target)
                gaps.setdefault(method, {})[column] = f"{gap['difference']:+.3f} [{gap['low']:+.3f}, {gap['high']:+.3f}]"
            elif method == best:
                gaps.setdefault(method, {})[column] = f"best count ({row.kendall:.3f})"
            else:
                gaps.setdefault(method, {})[column] = "held out" if heldout else "-"
        print(f"{column}: {sizes[column]} architectures compared", flush=True)
    order = list(runs) + [m for m in METHODS]
    columns = list(sizes)

    def cell(value) -> str:
        kendall, matched, heldout, best = value
        text = ("-" if kendall is None or not math.isfinite(kendall) else f"{kendall:.3f}") + \
            ("*" if heldout else "") + " / " + ("-" if not math.isfinite(matched) else f"{matched:.3f}")
        return f"**{text}**" if best else text
    main_table = ["| method | " + " | ".join(f"{c} (n={sizes[c]})" for c in columns) + " |",
                  "|---|" + "---|" * len(columns)]
    main_table += [f"| {m} | " + " | ".join(cell(rows[m][c]) for c in columns) + " |" for m in order]
    gap_table = ["| method | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    gap_table += [f"| {m} | " + " | ".join(gaps[m][c] for c in columns) + " |" for m in order]
    cost_table = pd.DataFrame(cost).T.loc[order].to_markdown(floatfmt=".2f")
    search_seconds = {label: json.loads((run.path / "metrics.json").read_text()).get("wall_seconds")
                      for label, run in runs.items()}
    main_text = ("Kendall tau with trained quality / Kendall over pairs within 10% of each other's non-embedding size, "
                 "on every architecture (bold: the best count on that space; *: the searched space, 5-fold held-out "
                 "Kendall; config_linear and config_gbr are supervised references, not proxies: regressions on the "
                 "config fields, each architecture predicted by a model fitted on the other 4 of 5 folds).\n\n" + "\n".join(main_table) + "\n")
    gap_text = ("Kendall minus the best count's on each space, with its 95% paired-bootstrap interval over the "
                "architectures (an interval that holds 0 is a difference the sampling could make).\n\n"
                + "\n".join(gap_table) + "\n")
    cost_text = ("Seconds per architecture (weight methods: featurizing all of the space's models on two cores, "
                 "divided by their number; data methods: the proxy's probe passes on one core, measured when the "
                 "stored values were probed). The discovered formulas' searches took "
                 + ", ".join(f"{k}: {v:.0f} s" for k, v in search_seconds.items() if v) + " of wall time.\n\n"
                 + cost_table + "\n\nPublished search costs (quoted, not measured here):\n\n"
                 + "\n".join(f"- {k}: {v}" for k, v in QUOTED.items()) + "\n")
    print(main_text + "\n" + gap_text + "\n" + cost_text)
    if not args.no_docs:
        path = write_table("cross-space", main_text, "experiments/cross_space.py")
        update_readme("cross-space", path.read_text())   # the README's headline table is this file
        write_table("cross-space-gaps", gap_text, "experiments/cross_space.py")
        write_table("cross-space-cost", cost_text, "experiments/cross_space.py")


if __name__ == "__main__":
    main()
