"""A discovered formula in the forms a researcher reuses: a standalone Python module, LaTeX, sympy text, JSON.

A run folder may come from anyone, so an export renders only what it can vouch for: the formula (parsed by the
whitelist parser, its feature names identifiers), numbers it checks are numbers, and names that match a narrow
pattern - anything else a file said (a benchmark name, a version) is left out, never pasted into code or LaTeX. The
Python module is parsed before it is returned and must be exactly the module this template makes (one docstring, two
imports, two constants, two functions); the LaTeX may hold no command that reads or writes files.
"""
from __future__ import annotations

import ast
import json
import keyword
import re
from typing import Any

from .formula import Formula

EXPORT_FORMATS = ("python", "latex", "sympy", "json")

MODULE_TEMPLATE = '''"""Zero-cost proxy discovered by zc-discover {version}.

    {formula}

Searched on {benchmarks} (seed {seed}); held-out Kendall tau {heldout}.
Higher scores predict better trained architectures. ``score_features`` needs numpy only; ``score_model`` measures a
torch model with zc-discover's decomposition, so it needs the package installed.
"""
import functools  # noqa: F401  (used by min/max, if the formula has them)

import numpy

FEATURES = {features!r}
FORMULA = {formula_text!r}


def score_features(row):
    """The proxy from a mapping of feature name -> value (a dict, a pandas row or a DataFrame of many models)."""
{assignments}
    return {expression}


def score_model(model, **probe):
    """The proxy of a torch model any family of zc-discover understands (its own, Hugging Face models, tagged
    modules), measured by the package: from its weights, and from one probe batch when the formula reads
    data-dependent features (``probe``: ``vocab_size``, ``batch``, ``seq``, ``seed``, as ``discover.score_model``)."""
    from discover import score_model as measure
    return measure(model, formula=FORMULA, **probe)
'''


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,199}")
SAFE_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,39}")
FEATURE_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
TEMPLATE_NAMES = {"numpy", "functools", "row", "score_features", "score_model", "FEATURES", "FORMULA", "measure",
                  "model", "probe"}
# TeX primitives that reach the file system or redefine the language; none is in a formula's LaTeX
UNSAFE_TEX = re.compile(r"\\(write|immediate|input|include|openin|openout|read|catcode|def|edef|gdef|xdef|let|"
                        r"csname|special|directlua|usepackage|newcommand|renewcommand)(?![A-Za-z])")


def _safe(meta: dict[str, Any]) -> dict[str, Any]:
    """The parts of ``meta`` an export may render: checked numbers and names that match ``SAFE_NAME``."""
    version = meta.get("version")
    seed = meta.get("seed")
    held = meta.get("heldout_kendall")
    names = meta.get("benchmarks") if isinstance(meta.get("benchmarks"), list) else []
    shown = [n for n in names if isinstance(n, str) and SAFE_NAME.fullmatch(n)]
    return {"version": version if isinstance(version, str) and SAFE_VERSION.fullmatch(version) else "?",
            "benchmarks": shown + (["(names not shown)"] if len(shown) < len(names) else []),
            "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else "?",
            "heldout": f"{held:.3f}" if isinstance(held, (int, float)) and not isinstance(held, bool)
            and held == held else "n/a"}


def _check_features(formula: Formula) -> None:
    for name in formula.features:
        if not FEATURE_NAME.fullmatch(name) or keyword.iskeyword(name) or name in TEMPLATE_NAMES:
            from .errors import ZcDiscoverError
            raise ZcDiscoverError(f"the formula reads a feature named {name[:60]!r}, which is not a feature name of "
                                  "this project; the run folder is not exported")


def check_module(source: str) -> str:
    """``source`` if it is exactly the module ``python_module`` makes (parsed, never run), else ZcDiscoverError."""
    from .errors import ZcDiscoverError
    tree = ast.parse(source)
    kinds = [type(node).__name__ for node in tree.body]
    expected = ["Expr", "Import", "Import", "Assign", "Assign", "FunctionDef", "FunctionDef"]
    docstring = tree.body[0].value if kinds and kinds[0] == "Expr" else None
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    if kinds != expected or not (isinstance(docstring, ast.Constant) and isinstance(docstring.value, str)) or \
            names != ["score_features", "score_model"]:
        raise ZcDiscoverError("the exported module is not the one the template makes (the run folder's contents "
                              "changed its structure); it is not exported")
    return source


def python_module(formula: Formula, meta: dict[str, Any]) -> str:
    """A standalone Python module computing ``formula`` from a feature row (numpy only)."""
    _check_features(formula)
    safe = _safe(meta)
    assignments = "\n".join(f"    {name} = numpy.asarray(row[{name!r}], dtype=float)" for name in formula.features)
    source = MODULE_TEMPLATE.format(version=safe["version"], formula=str(formula).replace("\\", ""),
                                    benchmarks=", ".join(safe["benchmarks"]), seed=safe["seed"],
                                    heldout=safe["heldout"], features=formula.features, formula_text=str(formula),
                                    assignments=assignments or "    pass", expression=formula.to_python())
    return check_module(source)


def latex_document(formula: Formula, meta: dict[str, Any]) -> str:
    """A LaTeX equation of ``formula`` with a comment stating where it was searched."""
    _check_features(formula)
    safe = _safe(meta)
    body = formula.latex()
    if UNSAFE_TEX.search(body) or "\n" in body:
        from .errors import ZcDiscoverError
        raise ZcDiscoverError("the formula's LaTeX holds a command that is not mathematics; it is not exported")
    return (f"% zc-discover {safe['version']}: proxy searched on {', '.join(safe['benchmarks'])}\n"
            f"\\begin{{equation}}\n  \\mathrm{{proxy}} = {body}\n\\end{{equation}}\n")


def export_meta(metrics: dict, arguments: dict, versions: dict) -> dict[str, Any]:
    """What an export states about the run: version, benchmarks, seed and the held-out Kendall (a number or None);
    ``render`` shows only the parts of it that pass its checks."""
    held = next(iter(metrics.get("heldout", {}).values()), {}).get("kendall")
    return {"version": versions.get("zc-discover", "?"), "benchmarks": arguments.get("benchmarks", []),
            "seed": arguments.get("seed"), "heldout_kendall": held if isinstance(held, (int, float)) else None}


def export_run(formula: Formula, metrics: dict, config: dict, fmt: str) -> str:
    """A run's chosen formula as ``fmt`` (``render``), with what the run's files say about it."""
    if fmt not in EXPORT_FORMATS:
        from .errors import UnknownNameError
        raise UnknownNameError("export format", fmt, EXPORT_FORMATS)
    return render(formula, fmt, export_meta(metrics, config.get("arguments", {}), config.get("versions", {})))


def render(formula: Formula, fmt: str, meta: dict[str, Any]) -> str:
    """``formula`` as ``python`` (a standalone module), ``latex``, ``sympy`` text or ``json`` (numbers as numbers).

    ``meta`` states its provenance: ``version``, ``benchmarks``, ``seed`` and ``heldout_kendall``."""
    if fmt == "python":
        return python_module(formula, meta)
    if fmt == "latex":
        return latex_document(formula, meta)
    if fmt == "sympy":
        _check_features(formula)
        return str(formula) + "\n"
    if fmt == "json":   # JSON escapes every string: the provenance is kept, as data
        return json.dumps({"formula": str(formula), "latex": formula.latex(), "features": formula.features,
                           "python": formula.to_python(), **meta}, indent=2, default=str) + "\n"
    from .errors import UnknownNameError
    raise UnknownNameError("export format", fmt, EXPORT_FORMATS)
