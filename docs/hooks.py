"""MkDocs hook: the command-line reference is generated from the argument parser, never copied by hand.

A page holding ``<!-- cli-reference -->`` gets, in its place, every verb's ``--help`` as the parser prints it."""
from __future__ import annotations

import argparse


def cli_reference() -> str:
    from discover.cli import build_parser
    parser = build_parser()
    parts = ["## zc-discover", "", "```text", parser.format_help().rstrip(), "```", ""]
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in verbs.choices.items():
        parts += [f"## zc-discover {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if "<!-- cli-reference -->" in markdown:
        return markdown.replace("<!-- cli-reference -->", cli_reference())
    return markdown
