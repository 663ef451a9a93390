"""The documentation cannot go stale: the site builds with ``mkdocs build --strict``, every results table is a file a
script wrote (and says which), the README's headline table is that file, every Python example of every page and of
the README runs, and every shell command in them parses."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from discover.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [p for p in PAGES if "tables" not in p.relative_to(ROOT / "docs").parts]
SOURCES = {p.relative_to(ROOT).as_posix(): p.read_text() for p in [ROOT / "README.md", *PAGES]}
INCLUDE = re.compile(r'^--8<-- "([^"]+)"', re.M)
SCRIPT = re.compile(r"Written by `python ((?:experiments|examples)/[\w./-]+\.py)")


def python_blocks():
    for name, text in SOURCES.items():
        for index, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.S)):
            yield pytest.param(name, block, id=f"{name}:{index}")


def shell_commands():
    for name, text in SOURCES.items():
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                for part in re.split(r"&&|\|", line):
                    words = shlex.split(part.split(">")[0])
                    if words:
                        yield pytest.param(words, id=f"{name}:{' '.join(words)[:50]}")


def test_the_pages_have_examples():
    assert len(list(python_blocks())) >= 10 and len(list(shell_commands())) >= 20


@pytest.mark.parametrize("words", list(shell_commands()))
def test_every_shell_command_parses(words):
    if words[0] == "export" or "=" in words[0]:
        return
    if words[0] == "zc-discover" or words[:3] == ["python", "-m", "discover"]:
        build_parser().parse_args(words[1:] if words[0] == "zc-discover" else words[3:])
    elif words[0] == "python" and len(words) > 1 and words[1].endswith(".py"):
        assert (ROOT / words[1]).is_file(), words[1]
    elif words[0] == "python":
        assert words[1:3] in (["-m", "pip"], ["-m", "pytest"]), words
    else:
        assert words[0] in {"pip", "cd", "cat", "ls", "dask", "mkdocs", "git"}, words


@pytest.mark.slow
@pytest.mark.parametrize("name, code", list(python_blocks()))
def test_every_python_example_runs_as_a_script(name, code, data_dir, tmp_path, monkeypatch):
    """Each example saved as a file and run by a new interpreter, as a user runs it: an example that starts worker
    processes (a Dask LocalCluster) without the ``if __name__ == "__main__":`` guard fails here as it fails there."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")   # pages name the example benchmark by its path
    monkeypatch.setenv("ZC_DISCOVER_QUICK", "1")   # the one switch: searches capped (population 30, 3 generations)
    monkeypatch.setenv("ZC_DISCOVER_DATA", str(data_dir))
    needed = re.findall(r'ProxySearch\.load\("([^"]+)"\)|run:([\w/.-]+)', code)
    for folder in {a or b for a, b in needed}:   # a page's example may read the run folder an earlier one wrote
        if not (tmp_path / folder).exists():
            from discover import ProxySearch
            ProxySearch(folds=2, jobs=1, output=tmp_path / folder, force=True).fit("nas-bench-bert")
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env=env)
    assert done.returncode == 0, f"{name}:\n{code}\n{done.stderr[-3000:]}"


def test_every_included_table_exists_and_names_its_script():
    included = [(name, match) for name, text in SOURCES.items() for match in INCLUDE.findall(text)]
    assert included, "no page includes a results table"
    for name, table in included:
        path = ROOT / "docs" / "tables" / table
        assert path.is_file(), f"{name} includes {table}, which no script has written"
        script = SCRIPT.search(path.read_text())
        assert script, f"{table} does not say which script wrote it"
        assert (ROOT / script[1]).is_file(), f"{table} names {script[1]}, which is not there"


def test_results_pages_type_no_table_by_hand():
    for page in (ROOT / "docs" / "results").glob("*.md"):
        rows = [line for line in page.read_text().splitlines() if line.startswith("|")]
        assert rows == [], f"{page.name} types a table; include the file its script writes instead"


def test_the_readme_tables_are_the_files_the_scripts_wrote():
    readme = SOURCES["README.md"]
    blocks = re.findall(r"<!-- table:([\w-]+) -->\n(.*?)\n<!-- /table:\1 -->", readme, flags=re.S)
    assert blocks, "the README has no headline table"
    for name, block in blocks:
        assert block.strip() == (ROOT / "docs" / "tables" / f"{name}.md").read_text().strip(), name
    outside = re.sub(r"<!-- table:([\w-]+) -->.*?<!-- /table:\1 -->", "", readme, flags=re.S)
    assert not [line for line in outside.splitlines() if line.startswith("|---")], "a table typed in the README"


def test_the_readme_is_a_front_page():
    readme = SOURCES["README.md"]
    assert len(readme.splitlines()) <= 200
    setup = re.search(r"```bash\n(.*?)```", readme, flags=re.S)[1].strip().splitlines()
    assert len(setup) == 2, "the set-up is two commands"
    install = setup[0]
    assert install.index("ZC_DISCOVER_DATA") < install.index("zc-discover search"), "data before the first use"
    assert "pip install" in install and setup[1].strip() == "python -m pytest -q"
    # torch from PyTorch's CPU index, before the project (whose torch==2.13.0 would otherwise take the CUDA wheel)
    assert install.index("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu") < install.index("-e ")
    assert "docs/tutorial/your-space.md" in readme   # the page for one's own space, one click away


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
    assert "zc-discover search" in (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
