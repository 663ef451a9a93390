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
    """A formula operator: its arity and its numpy, sympy and LaTeX forms."""
    name: str
    arity: int
    numpy: Callable[..., np.ndarray]
    sympy: Callable[..., sympy.Expr]
    latex: str          # a format string over {0}, {1}: how the operator reads in a paper
    description: str


OPERATORS: dict[str, Operator] = {}


def register(op: Operator) -> Operator:
    """Add ``op`` to ``OPERATORS`` (a name registered twice is an error)."""
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


@dataclass(frozen=True)
class GPOperator:
    """A primitive of the genetic-programming search. ``args`` are the argument types: ``vec`` (a feature vector over
    architectures) or ``weight`` (a constant, e.g. the alpha of a balance). Its numpy form must agree with its sympy
    form wherever both are finite, so that a searched tree and its exported formula give the same scores."""

    name: str
    args: tuple[str, ...]
    numpy: Callable[..., np.ndarray]
    sympy: Callable[..., sympy.Expr]
    latex: str
    description: str


def _log_abs(x):
    return np.log(np.abs(x))


def _sqrt_abs(x):
    return np.sqrt(np.abs(x))


def _square(x):
    return x * x


def _balance(a, b, w):
    return a + w * b


GP_OPERATORS: dict[str, GPOperator] = {}

for _gp in [
    GPOperator("add", ("vec", "vec"), np.add, lambda a, b: a + b, "{0} + {1}", "sum"),
    GPOperator("sub", ("vec", "vec"), np.subtract, lambda a, b: a - b, "{0} - {1}", "difference"),
    GPOperator("mul", ("vec", "vec"), np.multiply, lambda a, b: a * b, "{0} {1}", "product"),
    GPOperator("div", ("vec", "vec"), np.divide, lambda a, b: a / b, r"\frac{{{0}}}{{{1}}}",
               "ratio; a zero denominator gives a non-finite candidate, which gets the worst fitness"),
    GPOperator("plog", ("vec",), _log_abs, lambda x: sympy.log(sympy.Abs(x)), r"\log\left|{0}\right|",
               "protected log: log |x|"),
    GPOperator("psqrt", ("vec",), _sqrt_abs, lambda x: sympy.sqrt(sympy.Abs(x)), r"\sqrt{{\left|{0}\right|}}",
               "protected square root: sqrt |x|"),
    GPOperator("abs", ("vec",), np.abs, sympy.Abs, r"\left|{0}\right|", "absolute value"),
    GPOperator("square", ("vec",), _square, lambda x: x ** 2, r"{0}^{{2}}", "square"),
    GPOperator("neg", ("vec",), np.negative, lambda x: -x, r"-{0}", "negation"),
    GPOperator("min", ("vec", "vec"), np.minimum, sympy.Min, r"\min\left({0}, {1}\right)", "element-wise minimum"),
    GPOperator("max", ("vec", "vec"), np.maximum, sympy.Max, r"\max\left({0}, {1}\right)", "element-wise maximum"),
    GPOperator("balance", ("vec", "vec", "weight"), _balance, lambda a, b, w: a + w * b, r"{0} + {2} {1}",
               "sub-module balance a + alpha b (ZeroLM's form), alpha a searched constant"),
]:
    if _gp.name in GP_OPERATORS:
        raise ValueError(f"GP operator {_gp.name!r} is registered twice")
    GP_OPERATORS[_gp.name] = _gp
