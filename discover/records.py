"""One trained architecture of a benchmark, as the rest of the package sees it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Arch:
    """An architecture with its trained quality.

    ``target`` is oriented so that higher is better (GLUE as is, perplexity negated); ``metrics`` keeps the raw
    numbers the benchmark reports, so nothing is lost by the orientation.
    """

    id: str
    config: dict[str, Any]
    target: float
    metrics: dict[str, Any] = field(default_factory=dict)
