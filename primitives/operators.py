"""Operators a formula may use, each defined once with its numpy, sympy and LaTeX forms.

Formulas typed by a user and formulas found by the search share this table, so whatever a formula prints as, it
evaluates to the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy


@dataclass(frozen=True)
class Operator:
    name: str
    arity: int
    numpy: Callable[..., np.ndarray]
    sympy: Callable[..., sympy.Expr]
    latex: str          # a format string over {0}, {1}: how the operator reads in a paper
    description: str


OPERATORS: dict[str, Operator] = {}


def register(op: Operator) -> Operator:
    if op.name in OPERATORS:
        raise ValueError(f"operator {op.name!r} is registered twice")
    OPERATORS[op.name] = op
    return op


for _op in [
    Operator("log", 1, np.log, sympy.log, r"\log\left({0}\right)", "natural logarithm"),
    Operator("log1p", 1, np.log1p, lambda x: sympy.log(1 + x), r"\log\left(1 + {0}\right)", "log(1 + x)"),
    Operator("sqrt", 1, np.sqrt, sympy.sqrt, r"\sqrt{{{0}}}", "square root"),
    Operator("exp", 1, np.exp, sympy.exp, r"e^{{{0}}}", "exponential"),
    Operator("abs", 1, np.abs, sympy.Abs, r"\left|{0}\right|", "absolute value"),
    Operator("tanh", 1, np.tanh, sympy.tanh, r"\tanh\left({0}\right)", "hyperbolic tangent"),
    Operator("min", 2, np.minimum, sympy.Min, r"\min\left({0}, {1}\right)", "element-wise minimum"),
    Operator("max", 2, np.maximum, sympy.Max, r"\max\left({0}, {1}\right)", "element-wise maximum"),
]:
    register(_op)

# How sympy's printed names map back to numpy when a sympy expression is evaluated.
SYMPY_TO_NUMPY = {"Min": np.minimum, "Max": np.maximum, "Abs": np.abs, "log": np.log, "sqrt": np.sqrt,
                  "exp": np.exp, "tanh": np.tanh}
