"""A discovered formula in the forms a researcher reuses: a standalone Python module, LaTeX, sympy text, JSON."""
from __future__ import annotations

import json
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


def python_module(formula: Formula, meta: dict[str, Any]) -> str:
    """A standalone Python module computing ``formula`` from a feature row (numpy only)."""
    assignments = "\n".join(f"    {name} = numpy.asarray(row[{name!r}], dtype=float)" for name in formula.features)
    held = meta.get("heldout_kendall")
    return MODULE_TEMPLATE.format(version=meta.get("version", "?"), formula=str(formula),
                                  benchmarks=", ".join(meta.get("benchmarks", [])), seed=meta.get("seed", "?"),
                                  heldout=f"{held:.3f}" if isinstance(held, (int, float)) else "n/a",
                                  features=formula.features, formula_text=str(formula),
                                  assignments=assignments or "    pass", expression=formula.to_python())


def latex_document(formula: Formula, meta: dict[str, Any]) -> str:
    """A LaTeX equation of ``formula`` with a comment stating where it was searched."""
    return (f"% zc-discover {meta.get('version', '?')}: proxy searched on {', '.join(meta.get('benchmarks', []))}\n"
            f"\\begin{{equation}}\n  \\mathrm{{proxy}} = {formula.latex()}\n\\end{{equation}}\n")


def render(formula: Formula, fmt: str, meta: dict[str, Any]) -> str:
    """``formula`` as ``python`` (a standalone module), ``latex``, ``sympy`` text or ``json`` (numbers as numbers).

    ``meta`` states its provenance: ``version``, ``benchmarks``, ``seed`` and ``heldout_kendall``."""
    if fmt == "python":
        return python_module(formula, meta)
    if fmt == "latex":
        return latex_document(formula, meta)
    if fmt == "sympy":
        return str(formula) + "\n"
    if fmt == "json":
        return json.dumps({"formula": str(formula), "latex": formula.latex(), "features": formula.features,
                           "python": formula.to_python(), **meta}, indent=2) + "\n"
    from .errors import UnknownNameError
    raise UnknownNameError("export format", fmt, EXPORT_FORMATS)
