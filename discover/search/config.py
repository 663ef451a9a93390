"""The settings of a GP search (``SearchConfig``) and their choices, with nothing heavy imported: the command line
builds its options and checks them from here before torch, pandas or DEAP are loaded."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError, UnknownNameError
from ..limits import MAX_GENERATIONS, MAX_POPULATION, MAX_SEED

DEFAULT_OPERATORS = ("add", "sub", "mul", "div", "plog", "psqrt", "square", "neg", "min", "max", "balance")
# spearman / kendall: rank correlation with the target; iso: Kendall tau-b over the training pairs whose non-embedding
# sizes are within 10% (metrics.kendall_size_matched); partial: Spearman given log non-embedding size
# (metrics.partial_spearman). The last two ask for what a parameter count cannot give.
FITNESSES = ("spearman", "kendall", "iso", "partial")
AGGREGATES = ("min", "mean")


@dataclass
class SearchConfig:
    """Settings of one GP search (every stage of a run uses the same).

    ``aggregate`` combines the correlations of several benchmarks into one fitness: ``min`` (the worst space decides)
    or ``mean``. ``tie_tolerance``: candidates within it of the chosen formula's training score are reported as ties.
    """

    population: int = 200
    generations: int = 25
    fitness: str = "spearman"
    aggregate: str = "min"
    seed: int = 0
    max_height: int = 6
    max_size: int = 21
    crossover: float = 0.5
    mutation: float = 0.45
    validation_fraction: float = 0.25
    delta: float = 0.01
    tie_tolerance: float = 0.005
    operators: tuple[str, ...] = DEFAULT_OPERATORS

    def validate(self) -> "SearchConfig":
        """Raise ``ConfigError`` naming the first setting out of range or of the wrong type; return self."""
        def within(value, low, high, whole=False) -> bool:
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
                return False
            return low <= value <= high and math.isfinite(value)

        checks = [
            (within(self.population, 2, MAX_POPULATION, True),
             f"population must be an integer 2..{MAX_POPULATION:,}, got {self.population!r}"),
            (within(self.generations, 0, MAX_GENERATIONS, True),
             f"generations must be an integer 0..{MAX_GENERATIONS:,}, got {self.generations!r}"),
            (self.fitness in FITNESSES, f"fitness must be one of {', '.join(FITNESSES)}, got {self.fitness!r}"),
            (self.aggregate in AGGREGATES, f"aggregate must be one of {', '.join(AGGREGATES)}, got {self.aggregate!r}"),
            (within(self.max_height, 1, 17, True), f"max_height must be an integer 1..17, got {self.max_height!r}"),
            (within(self.max_size, 1, 200, True), f"max_size must be an integer 1..200, got {self.max_size!r}"),
            (within(self.crossover, 0, 1) and within(self.mutation, 0, 1) and self.crossover + self.mutation <= 1,
             "crossover and mutation must be probabilities whose sum is at most 1"),
            (within(self.validation_fraction, 0, 1) and 0 < self.validation_fraction < 1,
             f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"),
            (within(self.delta, 0, 1) and within(self.tie_tolerance, 0, 1),
             "delta and tie_tolerance must be numbers from 0 to 1"),
            (within(self.seed, 0, MAX_SEED, True), f"seed must be an integer from 0 to {MAX_SEED:,}, got {self.seed!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        from primitives.operators import GP_OPERATORS   # numpy and sympy: loaded only when a search is checked
        if isinstance(self.operators, str) or not self.operators:
            raise ConfigError(f"operators must be a non-empty list of operator names, got {self.operators!r}")
        for name in self.operators:
            if not isinstance(name, str) or name not in GP_OPERATORS:
                raise UnknownNameError("GP operator", str(name), GP_OPERATORS)
        return self


