"""The generator interface: the paper's operations, as async methods on source text.

The engine never knows which generator it drives. Every method returns Python
source (a whole module, except :meth:`Generator.describe` and
:meth:`Generator.parameter_ranges`); a reply that cannot be used raises
:class:`GenerationError`, whose message the engine records and, where it makes
sense, feeds to the fix loop.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from beam.catalog import Component
from beam.problem import Problem


class GenerationError(Exception):
    """The generator could not produce usable output (bad reply, nothing fits, budget spent)."""


@dataclass
class GeneratorContext:
    """What every generator may use; the engine updates ``memory`` and ``knowledge`` as the run goes.

    ``heubase`` and ``memory`` are catalogue entries (see :mod:`beam.catalog`); memory
    components are importable as ``from memory.<name> import <name>``.
    """

    problem: Problem
    heubase: list[Component]
    memory: list[Component] = field(default_factory=list)
    knowledge: list[str] = field(default_factory=list)
    seed: int = 0
    max_func_num: int = 4


class Generator(ABC):
    """The operations of the BEAM paper (Algorithms 1–2, appendix D)."""

    name: str = "generator"

    def __init__(self, context: GeneratorContext):
        self.context = context

    @abstractmethod
    async def initial_structure(self, index: int) -> str:
        """A new skeleton: entry function calling ``func_i`` placeholders and library functions."""

    @abstractmethod
    async def crossover(self, worse: str, better: str) -> str:
        """A child structure from two parents (``better`` scored higher)."""

    @abstractmethod
    async def mutate(self, current: str, elite: str) -> str:
        """A variant of ``current`` that learns from the best program ``elite``."""

    @abstractmethod
    async def fill_one(self, program: str, index: int, previous: list[str]) -> str:
        """``program`` with placeholder ``func_<index>`` realised, different from ``previous`` realisations."""

    @abstractmethod
    async def fill_all(self, program: str) -> str:
        """``program`` with every remaining placeholder realised."""

    @abstractmethod
    async def fix(self, program: str, error: str) -> str:
        """``program`` repaired so that ``error`` goes away (hyperparameters and MAX_TIME kept)."""

    @abstractmethod
    async def parameter_ranges(self, program: str) -> dict[str, tuple[float, float]]:
        """Search interval for each hyperparameter (except ``MAX_TIME``)."""

    @abstractmethod
    async def describe(self, function: str) -> str:
        """A ``def`` line and docstring naming and describing ``function`` (for the adaptive memory)."""

    def observe(self, program: str, result: dict[str, Any]) -> None:
        """Told about every evaluation; generators may learn from it (the composer's fix uses it)."""

    def usage(self) -> dict[str, Any]:
        """Calls, tokens and cost so far."""
        return {}
