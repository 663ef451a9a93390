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

    feat = verbs.add_parser("featurize", parents=[common], help="write the feature table of a benchmark")
    feat.add_argument("name")
    feat.add_argument("--builder", help="as-trained (default), spec or legacy (FlexiBERT only)")
    feat.add_argument("--seed", type=int, default=0)
    feat.add_argument("-o", "--output", required=True, help="a .parquet or .csv file")
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


def cmd_featurize(args: argparse.Namespace) -> int:
    from .featurize import featurize, write_table
    from .registry import load_benchmark
    benchmark = load_benchmark(args.name, args.data_dir, offline=args.offline or None)
    table = featurize(benchmark, builder=args.builder, seed=args.seed)
    path = write_table(table, args.output)
    log.info("wrote %d rows x %d columns to %s", len(table), table.shape[1], path)
    return 0


COMMANDS = {"benchmarks": cmd_benchmarks, "fetch": cmd_fetch, "featurize": cmd_featurize}


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
