"""Formulas over feature columns: a whitelist parser into sympy, and one object that knows every form.

A formula is an arithmetic expression over feature names, numbers, ``+ - * / **`` and the registered operators
(``primitives.operators``). It is parsed with Python's ``ast`` and rebuilt node by node from a whitelist, so nothing
a user types is ever evaluated as Python: attributes, subscripts, calls of other names, lambdas, comprehensions and
dunder names are refused before anything runs.
"""
from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sympy

from primitives.operators import OPERATORS, SYMPY_TO_NUMPY
from .errors import UnknownNameError, ZcDiscoverError

MAX_LENGTH = 4000
MAX_NODES = 400
MAX_EXPONENT = 16
MAX_DEPTH = 60
MAX_LITERAL = 1e15        # a number typed in a formula; larger constant parts are refused as they are built
MAX_CONSTANT = 1e300
# Identity and the quantity proxies are judged against: never a feature, whatever list of names a caller allows.
RESERVED_NAMES = ("arch_id", "target")
# Other targets a table carries for reporting (``target:<name>``, e.g. a robustness space's attacked accuracy): as
# much a leak of the quantity judged as ``target`` itself.
TARGET_PREFIX = "target:"
# sympy prints these functions capitalised; accepting its spelling lets a printed formula be read back.
SYMPY_ALIASES = {"Abs": "abs", "Min": "min", "Max": "max"}

_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a}


class FormulaError(ZcDiscoverError, ValueError):
    """A formula that is malformed or uses something outside the whitelist."""


def _refuse(node: ast.AST, why: str) -> FormulaError:
    snippet = ast.unparse(node) if isinstance(node, ast.AST) else str(node)
    return FormulaError(f"formula refused: {why} ({snippet[:60]!r}). Allowed: feature names, numbers, + - * / **, "
                        f"and {', '.join(sorted(OPERATORS))}.")


def parse(text: str, features: Iterable[str]) -> sympy.Expr:
    """Parse ``text`` into a sympy expression over the given feature names, refusing anything else."""
    features = set(features)
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("formula is empty")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if _nesting(text) > MAX_DEPTH:
        raise FormulaError(f"formula is nested more than {MAX_DEPTH} levels deep (parentheses and signs)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        stripped = text.strip()
        column = exc.offset if exc.lineno == 1 and exc.offset else 0
        if not 1 <= column <= len(stripped) or stripped[-1] in "+-*/%(,":
            where = f"it ends early: {stripped[-40:]!r} lacks what follows its last operator or parenthesis"
        else:
            before, after = stripped[max(0, column - 20):column - 1], stripped[column - 1:][:20]
            where = f"at character {column}: {before!r} >>> {after!r}"
        raise FormulaError(f"formula is not a valid expression ({exc.msg}); {where}") from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("formula is nested too deeply or is not a valid expression") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise FormulaError(f"formula has more than {MAX_NODES} syntax nodes")
    try:
        return _convert(tree.body, features)
    except RecursionError:
        raise FormulaError(f"formula is nested too deeply (limit {MAX_DEPTH} levels)") from None


def _nesting(text: str) -> int:
    """An upper bound on how deep the expression nests: open parentheses plus a run of signs, at their deepest."""
    depth = deepest = signs = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char in "+-~":
            signs += 1
        elif not char.isspace():
            signs = 0
        deepest = max(deepest, depth + signs)
    return deepest


def _convert(node: ast.AST, features: set[str]) -> sympy.Expr:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(node, "only numbers may appear as constants")
        if not abs(node.value) <= MAX_LITERAL:   # also refuses inf and nan (1e999 parses to inf)
            raise _refuse(node, f"numbers in a formula are at most {MAX_LITERAL:g} in magnitude")
        return sympy.Float(node.value) if isinstance(node.value, float) else sympy.Integer(node.value)
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise _refuse(node, "dunder names are not allowed")
        if node.id in RESERVED_NAMES:
            raise _refuse(node, f"{node.id} is not a feature: a formula never reads the id or the target")
        if node.id not in features:
            raise UnknownNameError("feature", node.id, features)
        return sympy.Symbol(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _convert(node.left, features), _convert(node.right, features)
        if isinstance(node.op, ast.Pow) and not (right.is_number and abs(float(right)) <= MAX_EXPONENT):
            raise _refuse(node, f"exponents must be numbers of magnitude at most {MAX_EXPONENT}")
        return _bounded(node, _build(node, _BINARY[type(node.op)], left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _build(node, _UNARY[type(node.op)], _convert(node.operand, features))
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        name = SYMPY_ALIASES.get(name, name)
        if name not in OPERATORS:
            shown = name or ast.unparse(node.func)
            close = difflib.get_close_matches(shown, OPERATORS, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise _refuse(node, f"{shown!r} is not a registered operator{hint}")
        if node.keywords:
            raise _refuse(node, "operators take positional arguments only")
        op = OPERATORS[name]
        variadic = name in ("min", "max")  # sympy prints Max(a, b, c) for nested maxima
        if len(node.args) != op.arity and not (variadic and len(node.args) >= 2):
            raise _refuse(node, f"{op.name} takes {op.arity} argument(s), got {len(node.args)}")
        return _bounded(node, _build(node, op.sympy, *(_convert(arg, features) for arg in node.args)))
    raise _refuse(node, f"{type(node).__name__} is not allowed in a formula")


def _bounded(node: ast.AST, result: sympy.Expr) -> sympy.Expr:
    """Constant sub-expressions are folded by sympy as they are built: each is kept within 1e300, so that a chain of
    powers or exponentials (``exp(exp(exp(10.0)))``) is refused at its first oversized step instead of building a
    number with billions of digits. (An undefined one, such as 1/0, is kept: it evaluates to NaN.)"""
    if result.is_number and result.is_finite is not False and _magnitude(result) > MAX_CONSTANT:
        raise _refuse(node, f"a constant part of the formula is beyond {MAX_CONSTANT:g}")
    return result


def _build(node: ast.AST, function, *args) -> sympy.Expr:
    """Apply a sympy operation; one that sympy cannot carry out (comparing an undefined constant, say) is a
    ``FormulaError`` naming the part, never sympy's own exception."""
    try:
        return function(*args)
    except (RecursionError, MemoryError):
        raise _refuse(node, "this part is too large to build") from None
    except Exception as exc:  # sympy raises many types (ValueError, TypeError, ...) for operations it refuses
        raise _refuse(node, f"sympy cannot build this part ({type(exc).__name__})") from None


def _magnitude(number: sympy.Expr) -> float:
    try:
        return abs(complex(number))
    except (TypeError, ValueError, OverflowError):
        return float("inf")


UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


class Formula:
    """A proxy formula: its sympy expression, and how it prints, exports and evaluates."""

    def __init__(self, expr: sympy.Expr, name: str | None = None):
        self.expr = expr
        self.name = name or str(expr)

    @classmethod
    def from_string(cls, text: str, features: Iterable[str], name: str | None = None) -> "Formula":
        """Parse ``text`` with the whitelist parser over ``features`` (see ``parse``)."""
        return cls(parse(text, features), name)

    @property
    def features(self) -> list[str]:
        """The feature names the formula reads, sorted."""
        return sorted(s.name for s in self.expr.free_symbols)

    def sympy(self) -> sympy.Expr:
        """The sympy expression."""
        return self.expr

    def latex(self) -> str:
        """LaTeX, feature names set upright."""
        # Feature names as upright words: sympy would read their underscores as nested subscripts.
        names = {sym: r"\mathrm{" + sym.name.replace("_", r"\_") + "}" for sym in self.expr.free_symbols}
        return sympy.latex(self.expr, symbol_names=names)

    def __str__(self) -> str:
        return str(self.expr)

    def to_python(self) -> str:
        """A Python expression over the formula's features and numpy that computes it (used by exports)."""
        from sympy.printing.numpy import NumPyPrinter
        if any(self.expr.has(value) for value in UNDEFINED):
            return "numpy.nan"
        return NumPyPrinter({"fully_qualified_modules": True}).doprint(self.expr)

    def evaluate(self, table: pd.DataFrame | dict) -> np.ndarray:
        """Scores for each row of ``table`` (a DataFrame, or a mapping of feature -> values); NaN where the formula
        is not a real finite number (see ``evaluate_with_reason``)."""
        return self.evaluate_with_reason(table)[0]

    def evaluate_with_reason(self, table: pd.DataFrame | dict) -> tuple[np.ndarray, str | None]:
        """(scores, reason): total evaluation. Complex, infinite and undefined values become NaN, and ``reason``
        says why (None when every value is a real finite number). Never raises for a parsed formula."""
        missing = [f for f in self.features if f not in table]
        if missing:
            available = table.columns if isinstance(table, pd.DataFrame) else table.keys()
            raise UnknownNameError("feature", missing[0], available)
        columns = [np.asarray(table[f], dtype=float) for f in self.features]
        n = len(table) if isinstance(table, pd.DataFrame) else len(columns[0]) if columns else 1
        if any(self.expr.has(value) for value in UNDEFINED):
            return np.full(n, np.nan), "the formula is undefined: a constant part of it is infinite or 0/0"
        try:
            symbols = [sympy.Symbol(f) for f in self.features]
            function = sympy.lambdify(symbols, self.expr, modules=[SYMPY_TO_NUMPY, "numpy"])
            with np.errstate(all="ignore"):
                values = np.asarray(function(*columns))
        except Exception as exc:  # sympy's printers and numpy raise many types; all mean "cannot be evaluated"
            return np.full(n, np.nan), f"the formula cannot be evaluated ({type(exc).__name__}: {exc})"
        reason = None
        if np.iscomplexobj(values):
            real = np.imag(values) == 0
            values = np.where(real, np.real(values), np.nan)
            if not real.all():
                reason = "complex values"
        values = np.broadcast_to(values.astype(float), (n,)).copy()
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            reason = f"{bad} of {n} values are not real finite numbers" + (f" ({reason})" if reason else "")
        return values, reason
