"""What every experiment script needs to leave a table behind: a caption saying which script wrote it, at which
commit, on which machine and when, and the table written with it (``docs/tables/*.md``, included by the
documentation pages, so no results table is typed by hand)."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "tables"


CODE = ("discover", "primitives", "experiments", "examples", "pyproject.toml")


def code_commit() -> str | None:
    """The commit of the checkout ('+dirty' when its code had uncommitted changes: the package, the scripts, the
    examples - not the README or the documentation, which these scripts themselves rewrite), or None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def machine() -> str:
    """CPU cores and architecture of this machine, in words."""
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), Python {platform.python_version()}"


def caption(script: str, extra: str = "") -> str:
    """The line under a table: which script wrote it, at which commit, on which machine, on which day."""
    day = datetime.date.today().isoformat()
    return (f"*Written by `python {script}` at commit {code_commit() or 'unknown'} on {machine()}, {day}."
            f"{' ' + extra if extra else ''}*")


def write_table(name: str, markdown: str, script: str, extra: str = "", folder: Path = RESULTS) -> Path:
    """``folder/name.md``: the table, then its caption (the file a documentation page includes)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(markdown.rstrip("\n") + "\n\n" + caption(script, extra) + "\n")
    return path


def update_readme(name: str, markdown: str, readme: Path = ROOT / "README.md") -> bool:
    """Put a table the script just wrote into the README between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``
    (the README cannot include a file; a test checks that the two stay equal). False when the README has no such
    block."""
    text = readme.read_text()
    start, end = f"<!-- table:{name} -->", f"<!-- /table:{name} -->"
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown.rstrip()}\n{end}{tail}")
    return True


def pruning_arguments(parser) -> None:
    """The options every pruning script over the reference models takes: which models and kinds, whether to wait
    for models still being built, and the thread count."""
    from discover.benchmarks.pruning.reference import REFERENCE_MODELS
    from discover.benchmarks.pruning.space import KINDS
    parser.add_argument("--models", nargs="+", default=list(REFERENCE_MODELS))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--wait", action="store_true", help="wait for models still being built")
    parser.add_argument("--threads", type=int, default=None)
