"""The seed paper's robustness tables on this project's LoNAS sub-networks: does a proxy predict how a sub-network
holds up under attack? (issue #29)

    python experiments/robustness_study.py [--tasks sentence_polarity subjectivity] [--seeds 0] [--no-search]

Reads the targets ``experiments/robustness_subnets.py`` stored (data/values/robustness/<task>-<encoder>-
targets.csv.gz) and the super-adapter they were measured on (refused when its weights differ), measures every
sub-network's weight features once (``discover.robustness.space``; stored beside the targets, with provenance),
and writes to docs/tables:

- ``robustness-<task>.md``: Spearman and Kendall of every zero-cost weight proxy (ZeroLM, NSC, the counts, FLOPs),
  of every published data proxy that runs on these sub-networks (synflow, SNIP, GraSP, Fisher, NASWOT, Jacobian
  covariance, LPZero's, EZNAS's, W-PCA, ...: one probe batch of 32 train sentences each, measured once and stored
  beside the targets; ``--no-probes`` leaves them out) and of the sub-network's dev accuracy (a measured reference:
  one pass over the dev split, not zero-cost) with every target, Spearman with its 95% bootstrap interval (over
  sub-networks, seeded);
- with the search (default): per target, the GP formula searched on the task (5-fold held out, mean over
  ``--seeds``), and leave one task out: searched on one task's sub-networks, scored unchanged on the other's,
  against the best zero-cost proxy there, weight or data (paired bootstrap of the Spearman difference).
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from discover import values
from discover.benchmarks import trained
from discover.benchmarks.pruning.models import models_dir
from discover.errors import DataError
from discover.metrics import paired_difference
from discover.robustness import superadapter as sa
from discover.robustness.compare import (PROXIES, correlation_table, probe_names, proxy_scores, read_features,
                                         space_paths)
from discover.robustness.probes import probe_batch, probe_request, probe_values
from discover.robustness.stored import probes_path
from discover.robustness.elastic import SubNetwork
from discover.robustness.space import features_table, space_table
from discover.search.config import SearchConfig
from discover.search.driver import search_tables
from discover.text import TASKS
from discover.version import code_version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import code_commit, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "data" / "values" / "robustness"
TABLES = ROOT / "docs" / "tables"
SEARCHED = ("test_accuracy", "deepwordbug_attacked_accuracy", "bae_attacked_accuracy")


def load_task_values(task: str, encoder: str, root: Path = VALUES, probes: bool = True
                     ) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame | None]:
    """The stored targets of ``task``, the weight features of its sub-networks and (``probes``) their data proxies,
    each measured now when not stored for this super-adapter and code, and the targets' provenance."""
    path, features_path = space_paths(encoder, task, root)
    targets, meta = values.read_values([path]), values.provenance(path)
    folder = models_dir() / f"lonas-{encoder}-{task}"
    enc = models_dir() / encoder
    model, card = sa.load_super_adapter(folder, trained.load_model(enc, task="masked-lm")[0].base_model,
                                        trained.weights_digest(enc))
    if card["weights_sha256"] != meta["adapter"]["weights_sha256"]:
        raise DataError(f"{path}: measured on another super-adapter than {folder} holds; run "
                        "experiments/robustness_subnets.py again")
    want = {"adapter_sha256": card["weights_sha256"], "version": code_version()}
    try:
        stored = values.provenance(features_path)
        if {k: stored.get(k) for k in want} != want:
            raise DataError("other adapter or code")
        features = read_features(features_path)
    except DataError:
        subs = [SubNetwork.parse(n) for n in dict.fromkeys(targets.arch_id)]
        started = time.perf_counter()
        features = features_table(model, subs)
        long = features.melt(id_vars="arch_id", var_name="proxy", value_name="value")
        values.write_values(long, features_path, {"benchmark": meta["benchmark"], "seed": 0, **want,
                                                  "commit": code_commit(),
                                                  "wall_seconds": round(time.perf_counter() - started, 1)})
        logging.info("%s: features of %d sub-networks in %.0f s", task, len(subs), time.perf_counter() - started)
    return targets, features, meta, load_probes(task, model, targets, meta, want, root) if probes else None


def load_probes(task: str, model, targets: pd.DataFrame, meta: dict, want: dict, root: Path) -> pd.DataFrame:
    """The data proxies of every sub-network (``robustness.probes``), read back when stored for this super-adapter,
    code and probe batch, else measured now (about 2.5 s per sub-network on two threads) and stored."""
    from discover.text import load_task, tokenizer
    path = probes_path(meta["encoder"], task, root)
    want = {**want, "probe": probe_request()}
    try:
        stored = values.provenance(path)
        if {k: stored.get(k) for k in want} != want:
            raise DataError("other adapter, code or probe batch")
        return _with_wall_time(values.read_values([path]), stored)
    except DataError:
        subs = [SubNetwork.parse(n) for n in dict.fromkeys(targets.arch_id)]
        started = time.perf_counter()
        long = probe_values(model, subs, probe_batch(load_task(task), tokenizer()))
        wall = time.perf_counter() - started
        values.write_values(long, path, {"benchmark": meta["benchmark"], "seed": 0, **want, "commit": code_commit(),
                                         "count": len(subs), "wall_seconds": round(wall, 1)})
        logging.info("%s: data proxies of %d sub-networks in %.0f s", task, len(subs), wall)
        return _with_wall_time(values.read_values([path]), values.provenance(path))


def _with_wall_time(probes: pd.DataFrame, meta: dict) -> pd.DataFrame:
    probes.attrs["wall_seconds"] = float(meta.get("wall_seconds", float("nan")))
    return probes


def bag_of_words_accuracy(task: str, seed: int = 0) -> float:
    """Test accuracy of a TF-IDF (words and word pairs) logistic regression trained on the same train split: what a
    classifier that ignores word order reaches on the task, the yardstick for the super-adapter's own accuracy."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from discover.text import load_task
    splits = load_task(task)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vectorizer.fit_transform([e.text for e in splits.train])
    model = LogisticRegression(C=4.0, max_iter=2000, random_state=seed).fit(x, [e.label for e in splits.train])
    return float(model.score(vectorizer.transform([e.text for e in splits.test]), [e.label for e in splits.test]))


def spread(values: pd.Series) -> str:
    v = values.dropna()
    return f"{v.median():.3f} [{v.min():.3f}, {v.max():.3f}]" if len(v) else "n/a"


def targets_table(loaded: dict) -> str:
    """Per task: what the targets look like over the sub-networks (median [min, max]) and how much of a ranking the
    test split can hold: the Spearman of each sub-network's dev accuracy with its test accuracy, two independent
    samples of the same quantity (no proxy can be expected to rank test accuracy better)."""
    rows = []
    for task, (targets, _, meta, _) in loaded.items():
        wide = targets.pivot(index="arch_id", columns="proxy", values="value")
        rho = stats.spearmanr(wide["dev_accuracy"], wide["test_accuracy"]).statistic
        row = {"task": task, "sub-networks": str(len(wide)), "test accuracy": spread(wide["test_accuracy"]),
               "dev vs test accuracy (Spearman)": f"{rho:+.3f}"}
        for attack in meta["request"]["attacks"]:
            row[f"{attack}: attacked accuracy"] = spread(wide[f"{attack}_attacked_accuracy"])
            row[f"{attack}: success rate"] = spread(wide[f"{attack}_success_rate"])
            row[f"{attack}: words perturbed"] = spread(wide[f"{attack}_perturbed_fraction"])
        row["TF-IDF logistic regression (test)"] = f"{bag_of_words_accuracy(task):.3f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("task").T.to_markdown(floatfmt=".3f")


def cost_table(loaded: dict, features_seconds: dict) -> str:
    """Seconds per sub-network of each measurement (median over sub-networks, one core each) and in all."""
    rows = []
    for task, (targets, features, meta, probes) in loaded.items():
        per = targets.groupby(["arch_id", targets.proxy.str.split("_").str[0]]).seconds.sum().unstack()
        seconds = lambda x: f"{float(x):.1f}"   # noqa: E731 - cells are text: the table mixes seconds and counts
        row = {"task": task, "super-adapter training (s, 2 threads)": seconds(meta["adapter"]["train_seconds"])}
        for what in per.columns:
            label = f"{what} accuracy, whole split" if what in ("dev", "test") else \
                f"{what} on {meta['request']['attack_sentences']} sentences"
            row[f"{label} (s per sub-network)"] = seconds(per[what].median())
        row["weight features (s per sub-network)"] = seconds(features_seconds.get(task, float("nan")))
        if probes is not None:   # wall time of the whole probe (passes shared), over the sub-networks
            row["every data proxy, one probe batch (s per sub-network, 2 threads)"] = seconds(
                probes.attrs.get("wall_seconds", float("nan")) / max(probes.arch_id.nunique(), 1))
        row[f"targets of every sub-network, wall (s, {meta['jobs']} jobs)"] = seconds(meta["wall_seconds"])
        read_back = int(meta.get("read_back", 0))
        row["sub-networks read back from an interrupted run (not in that wall time)"] = str(read_back)
        rows.append(row)
    return pd.DataFrame(rows).set_index("task").T.to_markdown(disable_numparse=True)


def reproduce(task: str, targets: pd.DataFrame, meta: dict, count: int) -> dict:
    """Measure the first ``count`` stored sub-networks again, each in a fresh worker process, and compare every
    value with the stored one, bit for bit."""
    from discover.robustness.targets import TargetRequest, measure_targets
    encoder = meta["encoder"]
    fields = {k: meta["request"][k] for k in ("attack_sentences", "max_queries", "candidates", "seed")}
    request = TargetRequest(str(models_dir() / encoder), str(models_dir() / f"lonas-{encoder}-{task}"), task,
                            attacks=tuple(meta["request"]["attacks"]), **fields)
    names = list(dict.fromkeys(targets.arch_id))[:count]
    again = measure_targets(request, names, jobs=2, resume=False)
    stored = targets[targets.arch_id.isin(names)].set_index(["arch_id", "proxy"]).value
    fresh = again.set_index(["arch_id", "proxy"]).value.loc[stored.index]
    same = (stored.to_numpy() == fresh.to_numpy()) | (stored.isna().to_numpy() & fresh.isna().to_numpy())
    return {"task": task, "sub-networks": ", ".join(f"`{n}`" for n in names), "values compared": len(stored),
            "identical": int(same.sum()), "largest difference": float(np.nanmax(np.abs(stored - fresh)))
            if len(stored) else float("nan")}


def _failed_probes(probes: pd.DataFrame) -> str:
    """The data proxies left out of the table (no value on any sub-network) and why, in words."""
    failed = sorted(set(probes.proxy) - set(probe_names(probes)))
    if not failed:
        return "every one has values."
    why = {}
    for name in failed:   # the reason without its exception type, cut at its first clause
        reasons = probes[probes.proxy == name].failure.dropna()
        text = str(reasons.iloc[0]).split(": ", 1)[-1] if len(reasons) else "no value"
        why[name] = text.split(";")[0].split(" (")[0].rstrip(".")
    return "left out, no value on these sub-networks: " + ", ".join(f"{n} ({w})" for n, w in why.items()) + "."


def fmt(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--encoder", default="roformer-6")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--no-probes", action="store_true",
                        help="leave the data proxies out (measuring them: about 2.5 s per sub-network)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--values", type=Path, default=VALUES, help="where the targets are stored")
    parser.add_argument("--tables", type=Path, default=TABLES, help="where the tables are written")
    parser.add_argument("--reproduce", type=int, default=2, metavar="N",
                        help="measure the first N sub-networks of each task again in fresh processes and compare "
                             "(0: skip)")
    args = parser.parse_args(argv)
    if args.reproduce == 1 or args.reproduce < 0:   # one sub-network would be measured in this process, not afresh
        parser.error("--reproduce takes 0 or at least 2 sub-networks (each is measured in a fresh worker process)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    loaded = {}
    for task in args.tasks:
        try:
            loaded[task] = load_task_values(task, args.encoder, args.values, probes=not args.no_probes)
        except DataError as why:
            logging.warning("%s: skipped (%s)", task, why)
    if not loaded:
        raise SystemExit("no stored robustness targets; run experiments/robustness_subnets.py first")
    for task, (targets, features, meta, probes) in loaded.items():
        report = correlation_table(targets, features, [*PROXIES, *probe_names(probes)], probes=probes)
        names = list(dict.fromkeys(report.target))
        lines = ["| proxy | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for proxy, part in report.groupby("proxy", sort=False):   # a row per proxy: there are more of them
            cells = {r.target: f"{fmt(r.spearman)} [{fmt(r.low)}, {fmt(r.high)}] / {fmt(r.kendall)}"
                     for r in part.itertuples()}
            lines.append(f"| {proxy} | " + " | ".join(cells.get(t, "-") for t in names) + " |")
        request, adapter = meta["request"], meta["adapter"]
        extra = (f"Spearman [95% bootstrap interval] / Kendall over {meta['count']} sub-networks of the "
                 f"{task} super-adapter ({adapter['training']['steps']} steps; dev accuracy of the largest "
                 f"{adapter['dev_accuracy']['largest']:.3f}, of the smallest {adapter['dev_accuracy']['smallest']:.3f}); "
                 f"attacks on {request['attack_sentences']} test sentences, {request['max_queries']} queries each; "
                 f"targets measured at commit {meta['commit']}."
                 + (f" Data proxies from one probe batch of {probe_request()['sentences']} train sentences; "
                    + _failed_probes(probes) if probes is not None else ""))
        write_table(f"robustness-{task}", "\n".join(lines), "experiments/robustness_study.py", extra, args.tables)
        logging.info("%s: correlation table written", task)
    write_table("robustness-targets", targets_table(loaded), "experiments/robustness_study.py",
                "Median [min, max] over the sub-networks; attacks on the same seeded test sentences for every "
                "sub-network; words perturbed: mean fraction over the successful attacks.", args.tables)
    features_seconds = {task: float(f["seconds"].median()) for task, (_, f, _, _) in loaded.items() if "seconds" in f}
    write_table("robustness-cost", cost_table(loaded, features_seconds), "experiments/robustness_study.py",
                "Medians over the sub-networks of the seconds stored with each value, each on one core.", args.tables)
    if args.reproduce:
        rows = [reproduce(task, t, m, args.reproduce) for task, (t, _, m, _) in loaded.items()]
        write_table("robustness-reproduction", pd.DataFrame(rows).to_markdown(index=False),
                    "experiments/robustness_study.py",
                    "Every stored target of these sub-networks measured again, each in a fresh process.", args.tables)
    if args.no_search:
        return 0
    probe_sets = {task: probes for task, (_, _, _, probes) in loaded.items()}
    tables = {(task, target): space_table(f, t, target) for task, (t, f, _, _) in loaded.items() for target in SEARCHED}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for (task, target), table in tables.items():
            held = [search_tables({task: table}, Path(scratch) / f"{task}-{target}-{s}", SearchConfig(seed=s),
                                  folds=5, force=True, progress=False, n_jobs=args.jobs)
                    .metrics["heldout"][task]["spearman"] for s in args.seeds]
            row = {"task": task, "target": target, "discovered (5-fold)": float(np.mean(held))}
            others = [t for t in loaded if t != task]
            if others:   # leave one task out: searched on the other task, scored here unchanged
                scores, formulas = [], []
                for s in args.seeds:
                    run = search_tables({others[0]: tables[(others[0], target)]},
                                        Path(scratch) / f"loto-{task}-{target}-{s}", SearchConfig(seed=s), folds=1,
                                        force=True, progress=False, n_jobs=args.jobs)
                    scores.append(np.asarray(run.formula.evaluate(table), float))
                    formulas.append(str(run.formula))
                baselines = proxy_scores(table, [*PROXIES, *probe_names(probe_sets[task])], measured=False,
                                         probes=probe_sets[task])
                # candidates: every published proxy with a value on each sub-network (a paired comparison)
                zero_cost = {n: v for n, v in baselines.items() if np.isfinite(v).all()}
                y = table["target"].to_numpy(float)
                best = max(zero_cost, key=lambda n: np.nan_to_num(stats.spearmanr(zero_cost[n], y).statistic, nan=-9))
                diff = paired_difference(np.vstack(scores), zero_cost[best], y, "spearman")
                row.update({"left-out task (searched on the other)": float(np.mean(
                    [stats.spearmanr(s, y).statistic for s in scores])),
                    "best published proxy": f"{best} {stats.spearmanr(zero_cost[best], y).statistic:+.3f}",
                    "difference [95%]": f"{diff['difference']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]",
                    f"formula (seed {args.seeds[0]})": f"`{formulas[0]}`"})
            rows.append(row)
    frame = pd.DataFrame(rows)
    write_table("robustness-search", frame.to_markdown(index=False, floatfmt="+.3f"),
                "experiments/robustness_study.py",
                f"Spearman with each target; search seeds {' '.join(map(str, args.seeds))}, population 200, 25 "
                "generations, weight features of the sub-networks only. Best published proxy: the best on the "
                "left-out task itself of the weight proxies and the data proxies with a value on every sub-network "
                "(chosen knowing the answer: a bound the discovered formula has to beat unaided); difference: "
                "discovered minus it, paired bootstrap over sub-networks.", args.tables)
    print(frame.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
