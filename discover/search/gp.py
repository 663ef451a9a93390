"""The typed genetic-programming vocabulary: primitive set, tree generation, and fast evaluation of trees.

Terminals are the feature columns (vectors over architectures) and searched constants (``Weight``); primitives are
``primitives.operators.GP_OPERATORS``. A tree is evaluated by a small stack machine over numpy columns instead of
``gp.compile``: no Python source is generated and compiled per individual, which is most of the cost of a naive loop.
"""
from __future__ import annotations

import ast
import random
from collections.abc import Sequence

import numpy as np
import sympy
from deap import base, creator, gp

from primitives.operators import GP_OPERATORS
from ..errors import ZcDiscoverError
from .config import DEFAULT_OPERATORS

WORST = -2.0   # below any correlation: given to non-finite or constant candidates


class Vector:
    """Type marker: a feature vector over architectures."""


# Searched constants (the alpha of a balance) are plain floats: DEAP's tree parser types numbers as float.
Weight = float
TYPES = {"vec": Vector, "weight": Weight}

# Every draw of a search stage comes from this one generator - DEAP's included: its gp module draws through its
# module attribute ``random``, which is pointed here. The global ``random`` is shared with whatever else runs in the
# process (a Dask worker's event loop draws from it for its heartbeats and retries), so a stage seeded through it
# would not replay the same; this generator is touched by nothing else (``loop._STAGE_LOCK``: one stage at a time).
STAGE_RANDOM = random.Random(0)
gp.random = STAGE_RANDOM

# DEAP wants these classes created once, at import (never inside a function that runs again).
if not hasattr(creator, "ZcFitness"):
    creator.create("ZcFitness", base.Fitness, weights=(1.0, -1.0))   # (train correlation, complexity)
if not hasattr(creator, "ZcIndividual"):
    creator.create("ZcIndividual", gp.PrimitiveTree, fitness=creator.ZcFitness)


# every constant a search can hold (``random_weight``'s draws); a stored tree with another is not of this search
WEIGHT_RANGE = (0.0, 3.0)


def random_weight() -> float:
    """A balance constant in (0, 3], on a 0.05 grid like ZeroLM's alpha sweep (module-level: it must pickle)."""
    return round(STAGE_RANDOM.randint(1, 60) * 0.05, 2)


def make_pset(features: Sequence[str], operators: Sequence[str] = DEFAULT_OPERATORS) -> gp.PrimitiveSetTyped:
    """The typed primitive set: features as vector terminals, the operators, and a searched constant."""
    pset = gp.PrimitiveSetTyped("proxy", [Vector] * len(features), Vector)
    pset.renameArguments(**{f"ARG{i}": name for i, name in enumerate(features)})
    for name in operators:
        op = GP_OPERATORS[name]
        pset.addPrimitive(op.numpy, [TYPES[a] for a in op.args], Vector, name=op.name)
    pset.addEphemeralConstant("zc_weight", random_weight, Weight)
    return pset


def generate(pset: gp.PrimitiveSetTyped, min_: int, max_: int, type_=None) -> list:
    """Half-and-half tree generation that also works for types no primitive returns (``Weight``).

    DEAP's generators raise when they need a primitive of such a type above the target depth; here a node becomes a
    terminal whenever its type has no primitive.
    """
    type_ = type_ or pset.ret
    full = STAGE_RANDOM.random() < 0.5
    height = STAGE_RANDOM.randint(min_, max_)
    expr, stack = [], [(0, type_)]
    while stack:
        depth, node_type = stack.pop()
        stop = depth == height or not pset.primitives.get(node_type) or (
            not full and depth >= min_ and STAGE_RANDOM.random() < pset.terminalRatio)
        if stop:
            term = STAGE_RANDOM.choice(pset.terminals[node_type])
            expr.append(term() if isinstance(term, gp.MetaEphemeral) else term)
        else:
            prim = STAGE_RANDOM.choice(pset.primitives[node_type])
            expr.append(prim)
            stack.extend((depth + 1, arg) for arg in reversed(prim.args))
    return expr


class TreeEvaluator:
    """Evaluates trees on a fixed table of columns; results are memoised by the tree's string."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self.columns = columns
        self.n = len(next(iter(columns.values())))
        self.functions = {name: op.numpy for name, op in GP_OPERATORS.items()}
        self.memo: dict[str, np.ndarray] = {}

    def __call__(self, tree: gp.PrimitiveTree, name: str | None = None) -> np.ndarray:
        key = str(tree) if name is None else name
        values = self.memo.get(key)
        if values is None:
            with np.errstate(all="ignore"):
                values = self._run(tree)
            self.memo[key] = values
        return values

    def many(self, trees: list, names: list[str]) -> np.ndarray:
        """Values of many trees as one (len(trees) x n) array; numpy warnings silenced once for the batch."""
        out = np.empty((len(trees), self.n))
        with np.errstate(all="ignore"):
            for i, (tree, name) in enumerate(zip(trees, names)):
                values = self.memo.get(name)
                if values is None:
                    values = self._run(tree)
                    self.memo[name] = values
                out[i] = values
        return out

    def _run(self, tree: gp.PrimitiveTree) -> np.ndarray:
        stack: list = []
        functions, columns = self.functions, self.columns
        for node in reversed(tree):
            if node.arity:
                args = [stack.pop() for _ in range(node.arity)]
                stack.append(functions[node.name](*args))
            elif isinstance(node.value, str):
                stack.append(columns[node.value])
            else:
                stack.append(float(node.value))
        result = stack.pop()
        if np.ndim(result) == 0:  # a tree of constants only
            return np.full(self.n, float(result))
        return result


def tree_to_sympy(tree: gp.PrimitiveTree) -> sympy.Expr:
    """The tree as a sympy expression, through each operator's sympy form (no simplification)."""
    stack: list = []
    for node in reversed(tree):
        if isinstance(node, gp.Primitive):
            args = [stack.pop() for _ in range(node.arity)]
            stack.append(GP_OPERATORS[node.name].sympy(*args))
        elif isinstance(node.value, str):
            stack.append(sympy.Symbol(node.value))
        else:
            # searched constants sit on a 0.05 grid: exact rationals keep the sympy form equal to the tree
            stack.append(sympy.Rational(round(float(node.value) * 20), 20))
    return stack.pop()


MAX_TREE_TEXT = 2000


class TreeSyntaxError(ZcDiscoverError, ValueError):
    """A stored tree string that is not a tree of this search's primitive set."""


def parse_tree(text: str, pset: gp.PrimitiveSetTyped, max_nodes: int = 200) -> gp.PrimitiveTree:
    """A tree from its printed form (``add(x, balance(y, z, 0.35))``), read by a whitelist over Python's ``ast``.

    DEAP's ``PrimitiveTree.from_string`` ``eval``s every token it does not know, so a run folder could make it run
    code; here only primitive calls of the right arity and types, feature names of the set and finite numbers where a
    constant belongs are accepted, and nothing is evaluated. Raises ``TreeSyntaxError`` for anything else."""
    if not isinstance(text, str) or not text or len(text) > MAX_TREE_TEXT:
        raise TreeSyntaxError(f"a stored tree must be a non-empty string of at most {MAX_TREE_TEXT} characters")
    try:
        body = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise TreeSyntaxError(f"stored tree {text[:60]!r} is not an expression") from None
    primitives = {p.name: p for prims in pset.primitives.values() for p in prims}
    terminals = {t.value: t for terms in pset.terminals.values() for t in terms if isinstance(t, gp.Terminal)}
    ephemerals = [t for t in pset.terminals.get(Weight, []) if isinstance(t, gp.MetaEphemeral)]
    nodes: list = []

    def constant(value: float) -> gp.Terminal:
        # An instance of the set's ephemeral class (so mutEphemeral still treats it as one) holding the stored value;
        # built without calling the class, which would draw a new value from ``random``.
        if not ephemerals:
            return gp.Terminal(value, False, Weight)
        node = ephemerals[0].__new__(ephemerals[0])
        gp.Terminal.__init__(node, value, False, Weight)
        return node

    def visit(node: ast.AST, expected: type) -> None:
        if len(nodes) >= max_nodes:
            raise TreeSyntaxError(f"stored tree has more than {max_nodes} nodes")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in primitives:
            prim = primitives[node.func.id]
            if prim.ret is not expected or len(node.args) != prim.arity or node.keywords:
                raise TreeSyntaxError(f"stored tree uses {prim.name} with the wrong arguments")
            nodes.append(prim)
            for arg, arg_type in zip(node.args, prim.args):
                visit(arg, arg_type)
        elif isinstance(node, ast.Name) and node.id in terminals and terminals[node.id].ret is expected:
            nodes.append(terminals[node.id])
        elif (expected is Weight and isinstance(node, ast.Constant) and type(node.value) in (int, float)
              and WEIGHT_RANGE[0] <= node.value <= WEIGHT_RANGE[1]):
            nodes.append(constant(float(node.value)))
        else:
            shown = ast.unparse(node)[:40] if isinstance(node, ast.AST) else repr(node)
            raise TreeSyntaxError(f"stored tree holds {shown!r}, which is not a {expected.__name__} of this search "
                                  "(unknown primitive or feature, or a constant out of place)")

    try:
        visit(body, pset.ret)
    except RecursionError:
        raise TreeSyntaxError("stored tree is nested too deeply") from None
    return creator.ZcIndividual(nodes)


def crossover_one_point(ind1: gp.PrimitiveTree, ind2: gp.PrimitiveTree):
    """DEAP's typed one-point crossover, with the exchanged type drawn from a sorted list.

    ``gp.cxOnePoint`` draws it from a set of type objects, whose order follows their memory addresses and so changes
    from process to process; that alone made results depend on which worker ran a search.
    """
    if len(ind1) < 2 or len(ind2) < 2:
        return ind1, ind2
    positions1: dict[type, list[int]] = {}
    positions2: dict[type, list[int]] = {}
    for index, node in enumerate(ind1[1:], 1):
        positions1.setdefault(node.ret, []).append(index)
    for index, node in enumerate(ind2[1:], 1):
        positions2.setdefault(node.ret, []).append(index)
    common = sorted(set(positions1) & set(positions2), key=lambda t: t.__name__)
    if common:
        type_ = STAGE_RANDOM.choice(common)
        slice1 = ind1.searchSubtree(STAGE_RANDOM.choice(positions1[type_]))
        slice2 = ind2.searchSubtree(STAGE_RANDOM.choice(positions2[type_]))
        ind1[slice1], ind2[slice2] = ind2[slice2], ind1[slice1]
    return ind1, ind2
