"""The ``zc-discover`` command line: a thin layer over the Python API (``discover.api``), nothing else.

Every bad input is one line on stderr and exit status 2, checked before any slow work.
"""
from __future__ import annotations

import argparse
import difflib
import json
import logging
import re
import sys
from collections.abc import Sequence

from .version import __version__
from .errors import ZcDiscoverError
from .files import check_writable
from .limits import MAX_FOLDS, MAX_GENERATIONS, MAX_POPULATION, MAX_SEED
from .search.config import AGGREGATES, FITNESSES, SearchConfig

log = logging.getLogger("discover")
GLOBAL_OPTIONS = ("data_dir", "offline", "quiet", "verbose")


class Parser(argparse.ArgumentParser):
    """argparse that answers a misspelled verb or choice with 'did you mean ...' and exits with status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        """Print the message (with suggestions) and exit with status 2."""
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match[2]) or [c.strip() for c in match[2].split(",")]
            close = difflib.get_close_matches(match[1], choices, n=2, cutoff=0.5)
            if close:
                message += f". Did you mean {' or '.join(repr(c) for c in close)}?"
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer(low: int, what: str, allow: tuple[int, ...] = (), high: int = MAX_SEED):
    def parse(text: str) -> int:
        if len(text) > 24:
            raise argparse.ArgumentTypeError(f"{text[:24]!r}... is not an integer of at most {high:,}")
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low and value not in allow:
            extra = f" (or {', '.join(map(str, allow))})" if allow else ""
            raise argparse.ArgumentTypeError(f"{what} must be at least {low}{extra}, got {value}")
        if value > high:
            raise argparse.ArgumentTypeError(f"{what} must be at most {high:,}, got {value:,}")
        return value
    parse.__name__ = what
    parse.__doc__ = f"argparse type: {what}, an integer from {low} to {high}."
    return parse


POSITIVE = _integer(1, "a positive integer")
NON_NEGATIVE = _integer(0, "a non-negative integer")
JOBS = _integer(1, "--jobs", allow=(-1,))
POPULATION = _integer(2, "--population", high=MAX_POPULATION)
GENERATIONS = _integer(0, "--generations", high=MAX_GENERATIONS)
FOLDS = _integer(1, "--folds", high=MAX_FOLDS)


def _device(text: str) -> str:
    """argparse type: a device name (cpu, cuda, cuda:N); whether it is there is checked by the verb."""
    from .limits import DEVICE_NAME
    if DEVICE_NAME.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(f"device must be cpu, cuda or cuda:N, got {text!r}")


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    """The options every verb takes, before or after it: the main parser holds the defaults, the verbs' copies
    only record what was given (so an option written before the verb is not reset after it)."""
    common = argparse.ArgumentParser(add_help=False)
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    common.add_argument("--data-dir", metavar="DIR", **keep,
                        help="benchmark data folder (default: $ZC_DISCOVER_DATA, else the user cache)")
    common.add_argument("--offline", action="store_true", **keep, help="never download; fail if data is missing")
    common.add_argument("-q", "--quiet", action="store_true", **keep, help="only warnings and errors")
    common.add_argument("-v", "--verbose", action="store_true", **keep, help="debug logging")
    return common


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in every option's help, once (an option whose help already says its default, or whose default is
    None, is left as written); examples kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default is argparse.SUPPRESS or default == []:
            return text
        return super()._get_help_string(action)


def _verb(verbs, name: str, parents: list, summary: str, example: str) -> argparse.ArgumentParser:
    return verbs.add_parser(name, parents=parents, help=summary, description=summary,
                            epilog=f"example:\n  {example}", formatter_class=HelpFormatter)


def build_parser() -> Parser:
    """The whole command line (every verb, its options and their defaults)."""
    parser = Parser(prog="zc-discover", parents=[_global_options(True)], formatter_class=HelpFormatter,
                    description="Discover zero-cost proxies for Transformer architecture search.",
                    epilog="example:\n  zc-discover search nas-bench-bert -o runs/bert\n"
                           "Run 'zc-discover VERB --help' for a verb's options.")
    parser.add_argument("--version", action="version", version=f"zc-discover {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)
    common = _global_options(False)

    bench = _verb(verbs, "benchmarks", [common], "list the benchmarks, their families and whether their data is "
                  "present", "zc-discover benchmarks --roles")
    bench.add_argument("--roles", action="store_true", help="also say which modules carry each role, per family")

    fetch = _verb(verbs, "fetch", [common], "download a benchmark and verify its pinned sha256",
                  "zc-discover fetch lts-txl-wt103")
    fetch.add_argument("name", metavar="NAME", help="benchmark name (see 'zc-discover benchmarks')")
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    fetch.add_argument("--allow-unverified", action="store_true",
                       help="accept a benchmark that has no pinned checksum (its sha256 is printed)")

    _verb(verbs, "proxies", [common], "list every proxy: what it needs and where it comes from",
          "zc-discover proxies")

    feats = _verb(verbs, "features", [common], "list the feature columns a formula or a search may use",
                  "zc-discover features nas-bench-bert")
    feats.add_argument("name", metavar="NAME", nargs="?", help="benchmark (optional; checks that it exists)")
    feats.add_argument("--with-activations", action="store_true", help="include the data-dependent features")

    prune = _verb(verbs, "prune", [common], "prune a trained language model: the sub-network each method would "
                  "ship at a size, and its held-out loss", "zc-discover prune llama-8 --kind depth --remove 25%")
    prune.add_argument("model", metavar="MODEL", help="a reference model (llama-8, gpt2-8, llama-12) or a folder of a "
                       "trained Hugging Face causal LM (config.json + model.safetensors)")
    prune.add_argument("--kind", choices=("depth", "heads", "ffn", "mixed"), default="depth",
                       help="what is removed: blocks, attention heads, feed-forward channel groups, or all three "
                       "together at a weight budget (mixed)")
    prune.add_argument("--remove", default=None, help="share of the units removed, e.g. 25%% (the default; mixed: "
                       "of the blocks' weights)")
    prune.add_argument("--proxy", nargs="+", metavar="NAME", help="criteria and run:DIR formulas to compare "
                       "(default: every criterion of the kind)")
    prune.add_argument("--limit", type=_integer(1, "--limit", high=100_000), default=None,
                       help="candidates scored (default 300 depth, 100 heads or ffn, 200 mixed)")
    prune.add_argument("--seed", type=NON_NEGATIVE, default=0, help="seed of the candidate sample")
    prune.add_argument("-o", "--output", metavar="FILE.csv", help="also write the table as CSV")
    prune.add_argument("--json", action="store_true", help="print JSON records instead of the table")
    prune.add_argument("--store", metavar="DIR", help="instead: measure the whole space of --kind (every candidate's "
                       "held-out loss, its weight features, the units' calibration statistics) and store it in DIR, "
                       "where compare and search read it as pruning:DIR/NAME-KIND")

    work = argparse.ArgumentParser(add_help=False)
    work.add_argument("--builder", help="reading of FlexiBERT configs: as-trained, spec or legacy (default: the "
                                        "family's first)")
    work.add_argument("--seed", type=NON_NEGATIVE, default=0, help="initialisation (and search) seed")
    work.add_argument("--jobs", type=JOBS, default=None, help="local worker processes (-1 or unset: every core; "
                                                                "more than the cores are capped to them)")
    work.add_argument("--scheduler", metavar="ADDRESS", help="run the work on the Dask cluster of this scheduler "
                      "(tcp://HOST:PORT; default $ZC_DISCOVER_SCHEDULER); this machine writes every file")
    work.add_argument("--backend", default="loky", choices=["loky", "dask"],
                      help="local processes, or a Dask cluster (a local one when no --scheduler is given)")
    work.add_argument("--device", type=_device, default="cpu", help="where models are built and measured: cpu, "
                                                                    "cuda or cuda:N")

    feat = _verb(verbs, "featurize", [common, work], "write the feature table of a benchmark",
                 "zc-discover featurize nas-bench-bert -o features.parquet")
    feat.add_argument("name", metavar="NAME", help="benchmark name or lts:PATH")
    feat.add_argument("-o", "--output", required=True, help="a .parquet or .csv file")
    feat.add_argument("--no-cache", action="store_true", help="recompute even if a cached table exists")
    feat.add_argument("--with-activations", action="store_true",
                      help="add activation and gradient statistics from a probe batch (data-dependent)")

    score = _verb(verbs, "score", [common, work], "rank quality of one proxy or formula on a benchmark",
                  "zc-discover score nas-bench-bert --formula 'sum_attention_capacity / n_layers' --json")
    score.add_argument("name", metavar="NAME", help="benchmark name or lts:PATH")
    which = score.add_mutually_exclusive_group(required=True)
    which.add_argument("--proxy", help="a registered proxy ('zc-discover proxies'), or run:RUN_DIR")
    which.add_argument("--formula", help="an expression over feature names ('zc-discover features')")
    score.add_argument("--ids", metavar="FILE", help="evaluate only on these architecture ids, one per line")
    score.add_argument("--alpha", type=float, help="zerolm: use this alpha instead of fitting it on a sample")
    score.add_argument("--json", action="store_true", help="print one JSON object")

    search = _verb(verbs, "search", [common, work], "discover a proxy formula (held-out folds, run folder)",
                   "zc-discover search lts-gpt2-wt103 lts-txl-wt103 -o runs/lts --transfer nas-bench-bert")
    search.add_argument("names", nargs="*", metavar="NAME", help="benchmark(s) or stored pruning space(s) "
                        "(pruning:llama-8-depth) to search on; several: one formula for all, their correlations "
                        "combined by --aggregate (with --resume: the run's own)")
    search.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder")
    search.add_argument("--folds", type=FOLDS, default=5, help="cross-validation folds for the held-out "
                        "estimate (1: no folds)")
    search.add_argument("--train-ids", metavar="FILE", help="train on these ids (one per line), report on the rest")
    search.add_argument("--transfer", nargs="+", default=[], metavar="NAME",
                        help="benchmarks never searched on, to report the final formula on")
    search.add_argument("--init-seed", type=NON_NEGATIVE, help="the models' initialisation seed (default: --seed)")
    search.add_argument("--population", type=POPULATION, default=SearchConfig.population, help="GP population")
    search.add_argument("--generations", type=GENERATIONS, default=SearchConfig.generations,
                        help="GP generations")
    search.add_argument("--fitness", choices=FITNESSES, default=SearchConfig.fitness,
                        help="what is maximised on the training architectures: Spearman or Kendall with quality; iso: "
                             "Kendall over pairs within 10%% of each other's non-embedding size; partial: Spearman "
                             "given log non-embedding size")
    search.add_argument("--aggregate", choices=AGGREGATES, default=SearchConfig.aggregate,
                        help="how several benchmarks' correlations combine")
    search.add_argument("--with-activations", action="store_true",
                        help="also search over data-dependent activation and gradient features (on a pruning "
                             "space: the removed units' calibration-batch statistics)")
    search.add_argument("--with-steps", type=_integer(1, "--with-steps", high=10_000), metavar="K",
                        help="also search over the few-step training signals after K steps (1, 4, 16 or 64: stored "
                             "for a seeded subset of each shipped space; others are trained), on the architectures "
                             "that have them")
    search.add_argument("--step-details", action="store_true",
                        help="with --with-steps: also each role's gradient norm and noise through depth and the data "
                             "probe's statistics of the model after the K steps (stored for the shipped subsets)")
    search.add_argument("--resume", action="store_true", help="continue an interrupted search in RUN_DIR")
    search.add_argument("--force", action="store_true", help="overwrite an existing RUN_DIR")

    export = _verb(verbs, "export", [common], "print the chosen formula of a run folder",
                   "zc-discover export runs/bert --format python > best_proxy.py")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", default="sympy", choices=["python", "latex", "sympy", "json"],
                        help="python: a standalone module; json: formula, LaTeX, features and provenance")

    probing = argparse.ArgumentParser(add_help=False)
    probing.add_argument("--batch", type=POSITIVE, help="probe batch size of data-dependent proxies (default: the "
                                                        "family's, 16)")
    probing.add_argument("--seq", type=_integer(2, "--seq"), help="probe sequence length (default 128 FlexiBERT, "
                                                                   "192 LTS)")
    probing.add_argument("--tokens", choices=["uniform", "zipf"], default="uniform",
                         help="probe token distribution (zipf: id k with probability ~ 1/(k+1))")
    probing.add_argument("--text", metavar="FILE", help="probe with this text file's words (ids by frequency rank) "
                                                        "instead of drawn tokens")
    probing.add_argument("--gradient", choices=["task", "ones"], default="task",
                         help="gradient source: the family's task loss, or ones back-propagated from the hidden "
                              "states")

    probe = _verb(verbs, "probe", [common, work, probing], "probe every architecture once and write its values "
                  "file (data-dependent proxies and activation features)",
                  "zc-discover probe lts-gpt2-wt103 --limit 20 -o gpt2-values.csv.gz")
    probe.add_argument("name", metavar="NAME", help="benchmark name or lts:PATH")
    probe.add_argument("-o", "--output", required=True, metavar="FILE",
                       help="values file (.csv or .csv.gz); FILE's provenance is written beside it as NAME.json")
    probe.add_argument("--proxies", nargs="+", metavar="P", help="data-dependent proxies (default: all registered)")
    probe.add_argument("--no-activations", action="store_true", help="proxies only, not the activation features")
    probe.add_argument("--ids", metavar="FILE", help="only these architecture ids, one per line")
    probe.add_argument("--limit", type=POSITIVE, help="only the first N architectures (in the benchmark's order)")
    probe.add_argument("--recompute", action="store_true", help="probe every architecture again, reading neither the "
                       "cache nor the stored values of the same request (by default those are reused, and said so)")

    comp = _verb(verbs, "compare", [common, work, probing], "many proxies side by side (tables, values, figures)",
                 "zc-discover compare nas-bench-bert --proxies params zerolm snip --limit 50 -o report/")
    comp.add_argument("name", metavar="NAME", help="benchmark name, lts:PATH, a stored pruning space "
                      "(pruning:llama-8-depth) or robustness space (lonas:roformer-6-sentence_polarity); "
                      "zc-discover benchmarks lists them")
    comp.add_argument("--proxies", nargs="+", metavar="P", help="proxies to compare (default: all registered)")
    comp.add_argument("-o", "--output", metavar="DIR",
                      help="folder for compare.csv, compare.md, values.csv, scatter.png and kendall.png")
    comp.add_argument("--runs", nargs="+", default=[], metavar="RUN_DIR", help="add discovered proxies of run folders")
    comp.add_argument("--ids", metavar="FILE", help="only these architecture ids, one per line")
    comp.add_argument("--values", nargs="+", metavar="CSV",
                      help="per-architecture values computed before (values.csv of compare -o, or "
                           "zc-discover probe, e.g. on a GPU): the proxies they hold are read, not probed")
    comp.add_argument("--limit", type=POSITIVE, help="only the first N architectures (in the benchmark's order)")
    comp.add_argument("--no-plots", action="store_true", help="tables only")
    comp.add_argument("--retry-failed", action="store_true",
                      help="probe again the architectures on which a cached data-dependent proxy failed")
    comp.add_argument("--targets", nargs="+", metavar="T", help="robustness space only: the targets to report "
                      "(default: all, e.g. test_accuracy bae_attacked_accuracy deepwordbug_success_rate)")
    return parser


def _benchmark(args: argparse.Namespace, name: str):
    from .benchmarks import load_benchmark
    return load_benchmark(name, args.data_dir, offline=args.offline or None)


def _search_source(args: argparse.Namespace, name: str):
    """What ``search`` takes for NAME: a stored pruning space's name as it is, else the loaded benchmark."""
    return name if name.startswith("pruning:") else _benchmark(args, name)


def cmd_benchmarks(args: argparse.Namespace) -> int:
    """``zc-discover benchmarks`` (from ``benchmarks.listing``: no model code is loaded)."""
    from .benchmarks.listing import FAMILY_FACTS, SPEC_ROWS
    print(f"{'name':<27} {'family':<9} {'archs':>5}  {'target':<12} {'direction':<17} {'builders':<26} data")
    for spec in SPEC_ROWS:
        present = "present" if spec.present(args.data_dir) else "missing (zc-discover fetch)"
        aliases = f" (alias {', '.join(spec.aliases)})" if spec.aliases else ""
        print(f"{spec.name:<27} {spec.family:<9} {spec.n_archs:>5}  {spec.target:<12} {spec.direction:<17} "
              f"{', '.join(spec.builders):<26} {present}{aliases}")
    print("lts:PATH                    any folder of the LTS release, either layout (family detected; or lts-gpt2:PATH, "
          "lts-txl:PATH)")
    print("hf:PATH                     a folder of Hugging Face configs with a results table (docs: Your own search "
          "space)")
    _list_pruning_spaces()
    _list_robustness_spaces()
    if args.roles:
        for family in FAMILY_FACTS.values():
            print(f"\n{family.name}: {family.description}")
            for role, where in family.roles.items():
                print(f"  {role:<10} {where}")
    return 0


def _list_pruning_spaces() -> None:
    """The stored pruning spaces (sub-networks of the trained reference models; ``zc-discover prune``), read from
    their provenance files alone."""
    from pathlib import Path
    from .files import read_json
    root = Path(__file__).resolve().parents[1] / "data" / "values" / "pruning"
    spaces = []
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            meta = read_json(path, "pruning space provenance", limit=1 << 20)
            spaces.append((f"pruning:{meta['request']['model']}-{meta['request']['kind']}", int(meta["candidates"])))
        except (ZcDiscoverError, KeyError, TypeError, ValueError):   # a damaged file is left out of the listing
            continue
    if spaces:
        print("\npruning spaces of the trained reference models (stored; zc-discover compare NAME ranks every method "
              "on one, zc-discover search NAME discovers a formula on it, zc-discover prune MODEL --kind KIND ships "
              "a sub-network; target: held-out loss of each sub-network, lower is better):")
        for name, count in spaces:
            print(f"  {name:<25} {count:>5} sub-networks")


def _list_robustness_spaces() -> None:
    """The stored robustness spaces (LoNAS sub-networks of the encoder, per sentence task), from their provenance."""
    from .robustness.stored import stored_spaces   # torch- and pandas-free, as the listing must be
    names = stored_spaces()
    if names:
        print("\nrobustness spaces (stored; zc-discover compare NAME scores every weight proxy, and the stored data "
              "proxies, against clean and attacked accuracy, success rate and perturbed fraction of each "
              "sub-network; higher accuracy is better):")
        for name in names:
            print(f"  {name}")


def cmd_fetch(args: argparse.Namespace) -> int:
    """``zc-discover fetch NAME``."""
    from .benchmarks import fetch_benchmark
    print(fetch_benchmark(args.name, args.data_dir, force=args.force, allow_unverified=args.allow_unverified))
    return 0


def cmd_proxies(args: argparse.Namespace) -> int:
    """``zc-discover proxies``."""
    from .proxies import PROXIES
    for proxy in PROXIES.values():
        print(f"{proxy.name:<24} needs {'+'.join(proxy.needs):<18} {proxy.citation}")
        print(f"{'':<24} {proxy.description}")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    """``zc-discover features [NAME]``: every column a formula or a search may read."""
    from primitives.combinators import AGGREGATIONS, MATRIX_ROLES
    from primitives.statistics import STATISTICS
    from .features import formula_features, table_columns
    from .probing.activations import ACTIVATION_AGGREGATIONS, ACTIVATION_STATS, activation_feature_names
    if args.name:
        from .benchmarks import get_spec
        get_spec(args.name)
    columns = formula_features(table_columns())
    print(f"{len(columns)} weight features. Names <agg>_<role>_<stat>: agg in {', '.join(AGGREGATIONS)} over "
          f"layers; role in {', '.join(MATRIX_ROLES)}; stat:")
    for stat in STATISTICS.values():
        print(f"  {stat.name:<14} {stat.description}")
    print("Structure: " + ", ".join(c for c in columns if not any(c.startswith(f"{a}_") for a in AGGREGATIONS)))
    if args.with_activations:
        names = activation_feature_names()
        print(f"{len(names)} data-dependent features (search --with-activations; definitions and sources: "
              f"discover/probing/activations.py): agg in {', '.join(ACTIVATION_AGGREGATIONS)}; per role:")
        for role, stats in ACTIVATION_STATS.items():
            print(f"  {role:<10} {', '.join(stats)}")
        columns = columns + names
    print("All: " + " ".join(columns))
    return 0


def cmd_featurize(args: argparse.Namespace) -> int:
    """``zc-discover featurize NAME -o FILE``: ``api.featurize``."""
    from .api import check_device, featurize
    from .cache import write_table
    if not args.output.endswith((".parquet", ".csv")):
        raise ZcDiscoverError(f"-o {args.output} must end in .parquet or .csv")
    check_device(args.device)
    check_writable(args.output, "-o")
    benchmark = _benchmark(args, args.name)
    table = featurize(benchmark, builder=args.builder, seed=args.seed, n_jobs=args.jobs, device=args.device,
                      use_cache=not args.no_cache, with_activations=args.with_activations)
    path = write_table(table, args.output)
    log.info("wrote %d rows x %d columns to %s", len(table), table.shape[1], path)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``zc-discover score NAME``: ``api.score_proxy``."""
    from .api import check_device, check_proxy_or_formula, score_proxy
    from .runs import finite_or_none
    from .scoring import read_ids
    check_device(args.device)
    ids = read_ids(args.ids) if args.ids else None
    formula = check_proxy_or_formula(args.proxy, args.formula)   # refused before any slow work
    options = {"device": args.device, **({"alpha": args.alpha} if args.alpha is not None else {})}
    benchmark = _benchmark(args, args.name)
    result = score_proxy(benchmark, args.proxy, formula, ids=ids, builder=args.builder, seed=args.seed,
                         n_jobs=args.jobs, options=options)
    if args.json:
        print(json.dumps(finite_or_none(result), default=str))
        return 0
    print(f"{result['benchmark']} ({result['builder']}, seed {result['seed']}, n={result['n']}): {result['proxy']}")
    if result["reason"]:
        print(f"  no correlation: {result['reason']}")
    for key in ("kendall", "kendall_size_matched", "spearman", "partial_spearman", "top10_precision"):
        value = result.get(key)
        print(f"  {key:<20} {'-' if value is None else format(value, '.4f')}")
    for key, value in result["info"].items():
        if key != "sample_ids":
            print(f"  {key:<20} {value}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``zc-discover compare NAME``: ``api.compare`` and ``compare.write_report``."""
    from .api import check_device, check_proxy_or_formula, compare, read_compared_values
    from .comparison import compare_provenance, shown, write_report
    from .runs import load_run
    from .scoring import read_ids
    from .values import read_values
    check_device(args.device)
    if args.output:
        check_writable(args.output, "-o", folder=True)
    if args.name.startswith("pruning:"):
        return _compare_pruning(args)
    if args.name.startswith("lonas:"):
        return _compare_robustness(args)
    if args.targets:
        raise ZcDiscoverError("--targets applies to a robustness space (lonas:...) only; leave it out")
    for name in args.proxies or []:
        check_proxy_or_formula(name, None)   # before the benchmark is loaded (or downloaded)
    settings = _probe_settings(args)
    runs = [load_run(path) for path in args.runs]
    ids = read_ids(args.ids) if args.ids else None
    if args.values:
        read_values(args.values)   # a bad file fails before the benchmark loads; its provenance is checked after
    benchmark = _benchmark(args, args.name)
    values = read_compared_values(args.values, benchmark, args.builder, args.seed, {"settings": settings}) \
        if args.values else None
    if args.limit:
        ids = (ids or [a.id for a in benchmark.archs])[: args.limit]
    options = {k: v for k, v in (("settings", settings), ("retry_failed", args.retry_failed),
                                 ("device", args.device)) if v}
    report = compare(benchmark, args.proxies, builder=args.builder, seed=args.seed, n_jobs=args.jobs,
                     options=options, runs=runs, ids=ids, values=values)
    print(shown(report).to_markdown(index=False, floatfmt=".3f"))
    failed = report.loc[report["failed"] > 0, ["proxy", "failed"]]
    for _, row in failed.iterrows():
        log.warning("%s failed on %d architecture(s) (NaN there; reasons in values.csv with -o)", row.proxy,
                    row.failed)
    if args.output:
        meta = compare_provenance(benchmark, args.builder, args.seed, settings, args.device, report, runs)
        for path in write_report(report, args.output, meta, plots=not args.no_plots):
            log.info("wrote %s", path)
    return 0


def _compare_pruning(args: argparse.Namespace) -> int:
    """``zc-discover compare pruning:MODEL-KIND``: ``api.compare_pruning`` on a stored pruning space."""
    from .api import compare_pruning
    from .pruning.compare import write_pruning_report
    for option, given in (("--ids", args.ids), ("--values", args.values), ("--limit", args.limit)):
        if given:
            raise ZcDiscoverError(f"{option} does not apply to a stored pruning space (its candidates are scored "
                                  "from the stored values, all of them); leave it out")
    report = compare_pruning(args.name, args.proxies, runs=args.runs)
    print(report.drop(columns=["source"]).to_markdown(index=False, floatfmt=".3f"))
    if args.output:
        for path in write_pruning_report(report, args.output):
            log.info("wrote %s", path)
    return 0


def _compare_robustness(args: argparse.Namespace) -> int:
    """``zc-discover compare lonas:ENCODER-TASK``: ``api.compare_robustness`` on a stored robustness space."""
    from .api import compare_robustness
    from .files import write_text
    for option, given in (("--ids", args.ids), ("--values", args.values), ("--limit", args.limit)):
        if given:
            raise ZcDiscoverError(f"{option} does not apply to a stored robustness space (its sub-networks are "
                                  "scored from the stored values, all of them); leave it out")
    report = compare_robustness(args.name, args.proxies, targets=args.targets, runs=args.runs)
    table = report.to_markdown(index=False, floatfmt="+.3f")
    print(table)
    if args.output:
        from pathlib import Path
        out = Path(args.output)
        write_text(out / "robustness.csv", report.to_csv(index=False, float_format="%.6g"))
        write_text(out / "robustness.md", table + "\n")
        log.info("wrote %s and %s", out / "robustness.csv", out / "robustness.md")
    return 0


def _probe_settings(args: argparse.Namespace):
    """The probe the options describe; an unreadable ``--text`` fails here, before any model is built."""
    from .probing import ProbeSettings
    from .probing.inputs import text_digest
    if args.text:
        text_digest(args.text)
    return ProbeSettings(args.batch, args.seq, args.tokens, args.text, args.gradient)


def cmd_probe(args: argparse.Namespace) -> int:
    """``zc-discover probe NAME -o FILE``: ``api.probe_values``."""
    from .api import check_device, probe_values
    from .probe_writer import check_proxies
    from .scoring import read_ids
    if not args.output.endswith((".csv", ".csv.gz")):
        raise ZcDiscoverError(f"-o {args.output} must end in .csv or .csv.gz")
    check_device(args.device)
    check_writable(args.output, "-o")
    names = check_proxies(args.proxies)
    settings = _probe_settings(args)
    ids = read_ids(args.ids) if args.ids else None
    benchmark = _benchmark(args, args.name)
    if args.limit:
        ids = (ids or [a.id for a in benchmark.archs])[: args.limit]
    meta = probe_values(benchmark, args.output, names, not args.no_activations, args.builder, args.seed, settings,
                        ids, args.jobs, args.device, reuse=not args.recompute)
    print(f"{benchmark.name} ({meta['builder']}): {meta['n']} architectures x {len(meta['proxies'])} proxies"
          f"{' + ' + str(len(meta['features'])) + ' feature columns' if meta['features'] else ''} in "
          f"{meta['wall_seconds_this_run']:.0f} s -> {args.output}")
    sources = meta["sources"]
    if sources["cache"] or sources["stored"]:
        print(f"  {sources['probed']} probed here, {sources['cache']} read from the cache, {sources['stored']} from "
              "the stored values of the same request; --recompute probes them all again")
    return 0


RESUMED = ("population", "generations", "folds", "fitness", "aggregate", "seed", "init_seed", "builder", "transfer",
           "with_activations", "with_steps", "step_details")


def _resumed(args: argparse.Namespace) -> None:
    """``search --resume``: the options left out are the run's own (``config.json``); one given with another value
    than the run's is refused here, before anything is loaded."""
    from . import schemas
    from .runs import RunFolderError, read_json
    from pathlib import Path
    config = Path(args.output) / "config.json"
    if not config.exists():
        if not args.names:
            raise ZcDiscoverError(f"nothing to resume in {args.output} (no config.json); name the benchmark(s) to "
                                  "start a search there")
        return
    recorded = read_json(config, "the search's configuration", schemas.RunConfig).arguments.model_dump()
    defaults = vars(build_parser().parse_args(["search", "-o", "x"]))
    for name, given in (("names", args.names), *((o, getattr(args, o)) for o in RESUMED)):
        stored = recorded.get("benchmarks" if name == "names" else name)
        unset = given == ([] if name == "names" else defaults.get(name))
        if unset:
            if stored is not None or name in ("init_seed", "builder", "with_steps"):
                setattr(args, name, stored if stored is not None else given)
        elif stored is not None and given != stored:
            option = "NAME" if name == "names" else f"--{name.replace('_', '-')}"
            raise RunFolderError(f"cannot resume {args.output}: it was started with {option} {stored!r}, not "
                                 f"{given!r}; leave {option} out (the run's own settings are used) or start over "
                                 "with --force")


def cmd_search(args: argparse.Namespace) -> int:
    """``zc-discover search NAME...``: ``api.ProxySearch.fit``."""
    from .api import ProxySearch
    from .scoring import read_ids
    if args.resume:
        _resumed(args)
    elif not args.names:
        raise ZcDiscoverError("name the benchmark(s) to search on (zc-discover benchmarks lists them)")
    search = ProxySearch(population=args.population, generations=args.generations, folds=args.folds,
                         fitness=args.fitness, aggregate=args.aggregate, seed=args.seed, init_seed=args.init_seed,
                         jobs=args.jobs, device=args.device, output=args.output, builder=args.builder,
                         resume=args.resume, force=args.force, with_activations=args.with_activations,
                         with_steps=args.with_steps, step_details=args.step_details,
                         progress=not args.quiet, train_ids=read_ids(args.train_ids) if args.train_ids else None)
    twice = sorted({n for n in args.names if args.names.count(n) > 1})
    if twice:
        raise ZcDiscoverError(f"{', '.join(twice)} is given more than once; a multi-space search takes each space once")
    search.check()   # options and the run folder are checked before anything is loaded
    # a stored pruning space (pruning:MODEL-KIND) is read by the search itself; a benchmark is loaded here
    search.transfer = [_search_source(args, name) for name in args.transfer]
    benchmarks = [_search_source(args, name) for name in args.names]
    try:
        search.fit(benchmarks)
    except KeyboardInterrupt:
        print(f"zc-discover: interrupted; continue with: zc-discover search -o {args.output} --resume",
              file=sys.stderr)
        return 130
    print(f"formula: {search.formula_}")
    for name, held in search.metrics_["heldout"].items():
        if held.get("kendall") is not None:
            spread = f" +- {held['kendall_std']:.4f} over {held['folds']} folds" if held.get("kendall_std") is not None \
                and held.get("folds") else ""
            matched = held.get("kendall_size_matched")
            print(f"held out on {name}: Kendall {held['kendall']:.4f}{spread}, Spearman {held['spearman']:.4f}, "
                  f"size-matched Kendall {'-' if matched is None else format(matched, '.4f')}")
    ties = search.metrics_.get("ties") or {}
    if ties.get("formulas", 0) > 1:
        print(f"{ties['formulas']} formulas ({ties['distinct_rankings']} distinct rankings) tie within "
              f"{ties['tolerance']} of it on the training data")
    for name, result in search.metrics_["transfer"].items():
        if result.get("kendall") is not None:
            print(f"transfer to {name}: Kendall {result['kendall']:.4f}, Spearman {result['spearman']:.4f}")
        else:
            print(f"transfer to {name}: undefined ({result.get('reason')})")
    print(f"run folder: {search.run_.path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``zc-discover export RUN_DIR``: ``api.ProxySearch.load(...).export``."""
    from .api import ProxySearch
    sys.stdout.write(ProxySearch.load(args.run_dir).export(args.format))
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """``zc-discover prune MODEL``: ``api.prune_model``."""
    from .api import parse_share, prune_model
    if args.store:
        return _store_pruning_space(args)
    share = parse_share(args.remove or "25%")
    _say_starting(args)
    if args.output:
        from .files import check_writable
        check_writable(args.output, "--output")
    table = prune_model(args.model, kind=args.kind, remove=share, methods=args.proxy, limit=args.limit,
                        seed=args.seed)
    if args.output:
        from .files import write_text
        write_text(args.output, table.to_csv(index=False))
    if args.json:
        print(table.to_json(orient="records", indent=1))
    else:
        attrs = table.attrs
        what = f"{attrs['removed']}% of the blocks' weights" if attrs["kind"] == "mixed" else \
            f"{attrs['removed']} of {attrs['units']} units"
        print(f"{attrs['kind']}: {what} removed, {attrs['candidates']} candidates; full model's held-out loss "
              f"{attrs['full_heldout_loss']:.3f}")
        print(table.drop(columns=["paper"]).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _store_pruning_space(args: argparse.Namespace) -> int:
    """``zc-discover prune MODEL --kind KIND --store DIR``: ``api.measure_pruning_space``."""
    from .api import measure_pruning_space
    for option, given in (("--remove", args.remove), ("--proxy", args.proxy), ("-o", args.output),
                          ("--json", args.json)):
        if given:
            raise ZcDiscoverError(f"{option} does not apply with --store (it measures every candidate of the space, "
                                  "no method picks one); leave it out, or prune without --store")
    check_writable(args.store, "--store", folder=True)
    _say_starting(args)
    meta = measure_pruning_space(args.model, args.kind, args.store, limit=args.limit, seed=args.seed)
    print(f"{meta['name']}: {meta['candidates']} sub-networks measured in {meta['wall_seconds']:.0f} s (full "
          f"model's held-out loss {meta['full_heldout_loss']:.3f}); zc-discover compare {meta['name']} ranks every "
          "method on it")
    return 0


HEAVY = ("featurize", "score", "probe", "compare", "search")   # verbs whose work can run on a Dask cluster


def _say_starting(args: argparse.Namespace) -> None:
    """On a terminal, one line before a heavy verb imports torch and loads its benchmark (seconds on a busy machine),
    so that the user sees at once what is happening; progress bars take over from there."""
    if args.quiet or not sys.stderr.isatty():
        return
    names = getattr(args, "names", None) or [getattr(args, "name", None) or getattr(args, "model", None)]
    what = ", ".join(n for n in names if n) or "the run folder's benchmarks"
    print(f"zc-discover {args.verb}: loading {what} (the first time on a benchmark measures every model, with "
          "progress bars; later runs read the cache)", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    """The verb, inside the engine its options name (local processes, or a Dask cluster reached first)."""
    if args.verb not in HEAVY:
        return COMMANDS[args.verb](args)
    _say_starting(args)
    from .parallel import ENV_SCHEDULER, check_scheduler_address, engine, resolve_jobs
    import os
    scheduler = args.scheduler or os.environ.get(ENV_SCHEDULER) or None
    if scheduler is not None:
        check_scheduler_address(scheduler)
        if args.jobs is not None:
            raise ZcDiscoverError(f"--jobs {args.jobs} starts local workers, --scheduler sends the work to the "
                                  f"cluster at {scheduler}: give one of them")
    args.jobs = resolve_jobs(args.jobs)
    with engine(args.backend, scheduler, args.jobs):
        return COMMANDS[args.verb](args)


COMMANDS = {"benchmarks": cmd_benchmarks, "fetch": cmd_fetch, "proxies": cmd_proxies, "features": cmd_features,
            "featurize": cmd_featurize, "score": cmd_score, "probe": cmd_probe, "compare": cmd_compare,
            "search": cmd_search, "export": cmd_export, "prune": cmd_prune}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:   # bare ``zc-discover``: what it can do, not an error about a missing VERB
        parser.print_help()
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.offline:
        import os
        os.environ["ZC_DISCOVER_OFFLINE"] = "1"
    try:
        return _run(args)
    except ZcDiscoverError as exc:
        print(f"zc-discover: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zc-discover: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
