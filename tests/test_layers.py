"""Imports flow one way: primitives -> benchmarks -> features -> probing -> proxies -> runs -> pruning, robustness
-> search -> scoring -> comparison -> api -> cli. Every import of every module (function-level ones included) is checked, and the module
graph of the package must have no cycle."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first; a module may import its own layer or lower ones, never a higher one.
LAYERS = [
    ["primitives"],
    ["discover.version", "discover.errors", "discover.limits"],
    ["discover.files", "discover.schemas", "discover.download"],
    ["discover.metrics", "discover.parallel", "discover.cache", "discover.formula", "discover.values"],
    ["discover.store"],
    ["discover.export", "discover.plots"],
    ["discover.text"],
    ["discover.benchmarks"],
    ["discover.features"],
    ["discover.probing"],
    ["discover.proxies"],
    ["discover.runs"],
    ["discover.pruning", "discover.robustness"],
    ["discover.search"],
    ["discover.scoring", "discover.reference"],
    ["discover.comparison", "discover.probe_writer"],
    ["discover.api"],
    ["discover.cli", "discover.__main__"],
    ["discover"],          # the package itself only re-exports the API
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, depth = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    assert best is not None, f"{module} belongs to no layer; add it to LAYERS"
    return best


def imports_of(path: Path) -> set[str]:
    """Every project module ``path`` imports (absolute names), at any depth of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:   # "from . import x" imports the submodule x, not the package's own names
                candidate = f"{target}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                        (ROOT / Path(*candidate.split("."))).is_dir():
                    found.add(candidate)
                else:
                    found.add(target)
    return {m for m in found if m.split(".")[0] in ("discover", "primitives")}


SOURCES = sorted(p for folder in ("discover", "primitives") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    here = module_name(path)
    upward = [m for m in imports_of(path) if layer_of(m) > layer_of(here)]
    assert upward == [], f"{here} (layer {layer_of(here)}) imports higher layers: {upward}"


def test_no_import_cycles():
    graph = {module_name(p): {m for m in imports_of(p) if m != module_name(p)} for p in SOURCES}
    # a package __init__ that re-exports its submodules is not part of a cycle through them
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not (name.startswith(t + ".") and t in graph)}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [node, target]))
            if target in graph and not state.get(target):
                visit(target, trail + [node])
        state[node] = 2

    for node in graph:
        if not state.get(node):
            visit(node, [])
