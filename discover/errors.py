"""Errors a user can act on: each message names the problem and the fix."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZcDiscoverError(Exception):
    """Base class: the CLI prints these without a traceback and exits with status 2."""


class UnknownNameError(ZcDiscoverError, KeyError):
    """A benchmark, builder, proxy, statistic or feature name that does not exist."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        choices = sorted(set(choices))
        close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(choices[:20]) + (", ..." if len(choices) > 20 else "")
        self.kind, self.name, self.suggestions = kind, name, close
        super().__init__(f"unknown {kind} {name!r}.{hint} Known: {shown}.")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return self.args[0]


class DataError(ZcDiscoverError):
    """Benchmark data that is missing, malformed or fails its checksum."""


class ConfigError(ZcDiscoverError, ValueError):
    """An architecture config that a builder cannot turn into a model."""


def _not_fitted_error() -> type:
    """``NotFittedError``: scikit-learn's own (a subclass of it) where scikit-learn is installed, so that code written
    for scikit-learn estimators catches it; otherwise the same convention (a ValueError and an AttributeError, so that
    ``hasattr`` answers False). Made on first use, so that importing this module does not import scikit-learn."""
    try:
        from sklearn.exceptions import NotFittedError as SklearnNotFittedError
        bases: tuple[type, ...] = (ZcDiscoverError, SklearnNotFittedError)
    except ImportError:
        bases = (ZcDiscoverError, ValueError, AttributeError)
    doc = "An estimator's learned attribute read before ``fit``."
    return type("NotFittedError", bases, {"__doc__": doc, "__module__": __name__})


def __getattr__(name: str):
    if name == "NotFittedError":
        globals()[name] = value = _not_fitted_error()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
