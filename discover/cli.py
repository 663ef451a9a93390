"""The ``zc-discover`` command line: a thin layer over the Python API (see the README)."""
from __future__ import annotations

import argparse
import difflib
import logging
import re
import sys
from collections.abc import Sequence

from . import __version__
from .errors import ZcDiscoverError
from .search import SearchConfig

log = logging.getLogger("discover")


class Parser(argparse.ArgumentParser):
    """argparse that answers a misspelled verb or choice with 'did you mean ...'."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match[2]) or [c.strip() for c in match[2].split(",")]
            close = difflib.get_close_matches(match[1], choices, n=2, cutoff=0.5)
            if close:
                message += f". Did you mean {' or '.join(repr(c) for c in close)}?"
        super().error(message)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="benchmark data folder (default: $ZC_DISCOVER_DATA, else the user cache)")
    common.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return common


def build_parser() -> Parser:
    common = _common()
    parser = Parser(prog="zc-discover", description=__doc__, parents=[common])
    parser.add_argument("--version", action="version", version=f"zc-discover {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)

    verbs.add_parser("benchmarks", parents=[common], help="list the benchmarks and whether their data is present")

    fetch = verbs.add_parser("fetch", parents=[common], help="download and verify a benchmark")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    fetch.add_argument("--allow-unverified", action="store_true",
                       help="accept a benchmark that has no pinned checksum (its sha256 is printed)")

    work = argparse.ArgumentParser(add_help=False)
    work.add_argument("--builder", help="as-trained (default), spec or legacy (FlexiBERT only)")
    work.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
    work.add_argument("--jobs", type=int, default=-1, help="parallel workers (default -1: all cores)")

    feat = verbs.add_parser("featurize", parents=[common, work], help="write the feature table of a benchmark")
    feat.add_argument("name")
    feat.add_argument("-o", "--output", required=True, help="a .parquet or .csv file")
    feat.add_argument("--backend", default="loky", choices=["loky", "dask"],
                      help="joblib backend: local processes, or a Dask cluster")
    feat.add_argument("--scheduler", help="Dask scheduler address (default: start a local cluster)")
    feat.add_argument("--device", default="cpu", help="where SVDs run: cpu (default) or cuda")
    feat.add_argument("--no-cache", action="store_true", help="recompute even if a cached table exists")
    feat.add_argument("--with-activations", action="store_true",
                      help="add activation and gradient statistics from a probe batch (data-dependent)")

    score = verbs.add_parser("score", parents=[common, work], help="rank quality of one proxy or formula")
    score.add_argument("name")
    which = score.add_mutually_exclusive_group(required=True)
    which.add_argument("--proxy", help="a registered proxy (see 'zc-discover compare'), or run:RUN_DIR for a discovered one")
    which.add_argument("--formula", help="an expression over feature names, e.g. 'sum_ffn_logdet / n_layers'")
    score.add_argument("--ids", help="file of architecture ids to evaluate on, one per line")
    score.add_argument("--alpha", type=float, help="zerolm: use this alpha instead of choosing one on a sample")
    score.add_argument("--json", action="store_true", help="print one JSON object")

    search = verbs.add_parser("search", parents=[common, work], help="discover a proxy formula")
    search.add_argument("names", nargs="+", metavar="NAME", help="benchmark(s) to search on (several: one formula "
                        "for all, fitness = the minimum over them)")
    search.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder")
    search.add_argument("--folds", type=int, default=5, help="cross-validation folds for the held-out estimate "
                        "(default 5; 1: no folds)")
    search.add_argument("--train-ids", help="train on these ids (one per line), report on the rest")
    search.add_argument("--transfer", nargs="+", default=[], metavar="NAME",
                        help="benchmarks never searched on, to report the final formula on")
    search.add_argument("--population", type=int, default=SearchConfig.population)
    search.add_argument("--generations", type=int, default=SearchConfig.generations)
    search.add_argument("--fitness", choices=["spearman", "kendall"], default=SearchConfig.fitness)
    search.add_argument("--with-activations", action="store_true",
                        help="also search over data-dependent activation and gradient features")
    search.add_argument("--resume", action="store_true", help="continue an interrupted search in RUN_DIR")
    search.add_argument("--force", action="store_true", help="overwrite an existing RUN_DIR")

    export = verbs.add_parser("export", parents=[common], help="the chosen formula of a run folder")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", default="sympy", choices=["python", "latex", "sympy", "json"])

    comp = verbs.add_parser("compare", parents=[common, work], help="many proxies side by side (CSV + Markdown)")
    comp.add_argument("name")
    comp.add_argument("--proxies", nargs="+", help="proxies to compare (default: all registered)")
    comp.add_argument("-o", "--output", default=None,
                      help="folder for compare.csv, compare.md, scatter.png and kendall.png")
    comp.add_argument("--runs", nargs="+", default=[], metavar="RUN_DIR", help="add discovered proxies of run folders")
    comp.add_argument("--batch", type=int, help="probe batch size of data-dependent proxies (default 16)")
    comp.add_argument("--seq", type=int, help="probe sequence length (default 128 FlexiBERT, 192 GPT-2)")
    comp.add_argument("--no-plots", action="store_true", help="tables only")
    comp.add_argument("--retry-failed", action="store_true",
                      help="probe again the architectures on which a cached data-dependent proxy failed")
    return parser


def cmd_benchmarks(args: argparse.Namespace) -> int:
    from .registry import SPECS
    print(f"{'name':<16} {'archs':>5}  {'target':<12} {'direction':<17} {'builders':<26} data")
    for spec in SPECS.values():
        present = "present" if spec.present(args.data_dir) else "missing (zc-discover fetch)"
        aliases = f" (alias {', '.join(spec.aliases)})" if spec.aliases else ""
        print(f"{spec.name:<16} {spec.n_archs:>5}  {spec.target:<12} {spec.direction:<17} "
              f"{', '.join(spec.builders):<26} {present}{aliases}")
    print("lts:PATH         any folder of the LTS layout (config_<i>/j<k>/model_config.yaml + ppl_summary.yaml)")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import fetch
    path = fetch(args.name, args.data_dir, force=args.force, allow_unverified=args.allow_unverified)
    print(path)
    return 0


def _benchmark(args: argparse.Namespace):
    from .registry import load_benchmark
    return load_benchmark(args.name, args.data_dir, offline=args.offline or None)


def cmd_featurize(args: argparse.Namespace) -> int:
    from .featurize import featurize, write_table
    benchmark = _benchmark(args)
    table = featurize(benchmark, builder=args.builder, seed=args.seed, n_jobs=args.jobs, backend=args.backend,
                      scheduler=args.scheduler, device=args.device, use_cache=not args.no_cache,
                      with_activations=args.with_activations)
    path = write_table(table, args.output)
    log.info("wrote %d rows x %d columns to %s", len(table), table.shape[1], path)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    import json
    import math

    from .score import read_ids, score
    benchmark = _benchmark(args)
    ids = read_ids(args.ids) if args.ids else None
    options = {"alpha": args.alpha} if args.alpha is not None else {}
    result = score(benchmark, args.proxy, args.formula, ids, args.builder, args.seed, args.jobs, options)
    if args.json:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}
        print(json.dumps(clean, default=str))
        return 0
    print(f"{result['benchmark']} ({result['builder']}, seed {result['seed']}, n={result['n']}): {result['proxy']}")
    if result["reason"]:
        print(f"  no correlation: {result['reason']}")
    for key in ("spearman", "kendall", "kendall_iso_params", "top10_precision"):
        print(f"  {key:<20} {result[key]:.4f}")
    for key, value in result["info"].items():
        if key != "sample_ids":
            print(f"  {key:<20} {value}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare, write_report
    from .discovery import load_run
    benchmark = _benchmark(args)
    runs = [load_run(path) for path in args.runs]
    options = {k: v for k, v in (("batch", args.batch), ("seq", args.seq), ("retry_failed", args.retry_failed)) if v}
    report = compare(benchmark, args.proxies, args.builder, args.seed, args.jobs, options=options, runs=runs)
    print(report.drop(columns=["needs_gradients"]).to_markdown(index=False, floatfmt=".3f"))
    failed = report.loc[report["failed"] > 0, ["proxy", "failed"]]
    for _, row in failed.iterrows():
        log.warning("%s failed on %d architecture(s) (NaN there; reasons in the proxy cache)", row.proxy, row.failed)
    if args.output:
        meta = {"benchmark": benchmark.name, "builder": args.builder or benchmark.spec.builders[0],
                "seed": args.seed, "n": len(benchmark), "runs": [str(r.path) for r in runs]}
        for path in write_report(report, args.output, meta, plots=not args.no_plots):
            log.info("wrote %s", path)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .discovery import discover
    from .registry import load_benchmark
    from .score import read_ids
    from .search import SearchConfig
    load = lambda name: load_benchmark(name, args.data_dir, offline=args.offline or None)  # noqa: E731
    benchmarks = [load(name) for name in args.names]
    transfer = [load(name) for name in args.transfer]
    config = SearchConfig(population=args.population, generations=args.generations, fitness=args.fitness,
                          seed=args.seed)
    train_ids = read_ids(args.train_ids) if args.train_ids else None
    try:
        run = discover(benchmarks, args.output, config, folds=args.folds, train_ids=train_ids, transfer=transfer,
                       builder=args.builder, n_jobs=args.jobs, resume=args.resume, force=args.force,
                       progress=not args.quiet, with_activations=args.with_activations)
    except KeyboardInterrupt:
        print(f"zc-discover: interrupted; continue with: zc-discover search ... -o {args.output} --resume",
              file=sys.stderr)
        return 130
    print(f"formula: {run.formula}")
    for name, held in run.metrics["heldout"].items():
        if held.get("kendall") is not None:
            print(f"held out on {name}: Kendall {held['kendall']:.4f}, Spearman {held['spearman']:.4f}, "
                  f"Kendall iso-params {held['kendall_iso_params']:.4f}")
    for name, result in run.metrics["transfer"].items():
        print(f"transfer to {name}: Kendall {result['kendall']:.4f}, Spearman {result['spearman']:.4f}")
    print(f"run folder: {run.path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .discovery import load_run
    from .export import render
    run = load_run(args.run_dir)
    arguments = run.config.get("arguments", {})
    held = next(iter(run.metrics.get("heldout", {}).values()), {}).get("kendall")
    meta = {"version": run.config.get("versions", {}).get("zc-discover", "?"),
            "benchmarks": arguments.get("benchmarks", []), "seed": arguments.get("seed"),
            "heldout": f"{held:.3f}" if isinstance(held, float) else "n/a"}
    sys.stdout.write(render(run.formula, args.format, meta))
    return 0


COMMANDS = {"search": cmd_search, "export": cmd_export, "benchmarks": cmd_benchmarks, "fetch": cmd_fetch, "featurize": cmd_featurize, "score": cmd_score,
            "compare": cmd_compare}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.verb](args)
    except ZcDiscoverError as exc:
        print(f"zc-discover: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zc-discover: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
