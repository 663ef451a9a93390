"""Every Python snippet of the README runs, and every shell command in it parses (the README cannot go stale)."""
import os
import re
import shlex
from pathlib import Path

import pytest

from discover.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON = re.findall(r"```python\n(.*?)```", README, flags=re.S)
SHELL = [line.strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
         for line in block.replace("\\\n", " ").splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_readme_has_examples():
    assert len(PYTHON) >= 3 and len(SHELL) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_snippet_runs(index, data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZC_DISCOVER_QUICK", "1")   # the one switch: searches capped, documented in the README
    monkeypatch.setenv("ZC_DISCOVER_DATA", str(data_dir))
    code = PYTHON[index]
    if "best_proxy" in code and "import" in code:   # the exported module of an earlier snippet's run
        pytest.importorskip("numpy")
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def commands():
    for line in SHELL:
        for part in re.split(r"&&|\|", line):
            words = shlex.split(part.split(">")[0])
            if words:
                yield words


@pytest.mark.parametrize("words", list(commands()), ids=lambda w: " ".join(w)[:60])
def test_shell_command_parses(words):
    if words[0] == "zc-discover" or words[:3] == ["python", "-m", "discover"]:
        args = words[1:] if words[0] == "zc-discover" else words[3:]
        build_parser().parse_args(args)
    elif words[0] == "python" and len(words) > 1 and words[1].endswith(".py"):
        assert (ROOT / words[1]).is_file(), words[1]
    elif words[:2] == ["export", words[1]] if len(words) > 1 else False:
        pass
    else:
        assert words[0] in {"python", "export", "pip", "cd", "cat", "ls"}, words
