"""Exterior layer (the paper's Algorithm 1): a genetic algorithm over solver structures.

The population is kept sorted by quality. Each generation, consecutive ranked
pairs are crossed with probability ``crossover_rate`` (the better one is the
second argument of the operator), every individual is mutated towards the
elite with probability ``mutation_rate``, every new structure is educated by
the interior layer, and the best ``max_pop_size`` survive. Every
``am_interval`` generations the adaptive memory is updated from the survivors.
Individuals already educated are not educated again (their evaluations are in
the store); the paper's line 18 educates the union only to complete new ones.

Who is crossed and mutated is the selector's choice (:mod:`beam.selection`):
the paper's ranked pairs by default, or QUBE's quality–uncertainty criterion;
with several islands each island runs the loop on its own members and
islands are reset every ``reset_interval`` generations. The islands and
their cluster statistics are stored in the run database every generation.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from beam.evaluate.service import BudgetExhausted, Scored
from beam.generators.base import GenerationError, Generator
from beam.interior import Educator
from beam.selection import IslandBook, SelectionConfig, Variation, make_selector
from beam.store import RunStore

MemoryHook = Callable[[int, list[Scored]], Awaitable[None]]
ProgressHook = Callable[[dict], None]


@dataclass
class ExteriorConfig:
    """GA settings (paper, Table XIII/XIV); ``selection`` picks parents and splits the population into islands."""

    generations: int = 3
    init_pop_size: int = 4
    max_pop_size: int = 4
    crossover_rate: float = 0.7
    mutation_rate: float = 0.3
    am_interval: int = 1
    seed: int = 0
    selection: SelectionConfig = field(default_factory=SelectionConfig)

    def island_capacity(self) -> int:
        """Members per island: the population split evenly (at least 2, so an island can cross)."""
        islands = self.selection.islands
        return self.max_pop_size if islands == 1 else max(2, math.ceil(self.max_pop_size / islands))


@dataclass
class Offspring:
    source: str
    parents: list[int]
    role: str
    variation: Variation | None = None
    island: int = 0


class Exterior:
    """Runs Algorithm 1; ``population`` is a list of :class:`Scored`, best first (all islands together)."""

    def __init__(self, generator: Generator, educator: Educator, store: RunStore, config: ExteriorConfig,
                 memory_hook: MemoryHook | None = None, progress: ProgressHook | None = None):
        self.generator = generator
        self.educator = educator
        self.store = store
        self.config = config
        self.memory_hook = memory_hook
        self.progress = progress or (lambda info: None)
        self.rng = random.Random(config.seed)
        self.book = IslandBook(config.selection.islands, config.island_capacity(), config.selection.k)
        self.selector = make_selector(config.selection)
        self.population: list[Scored] = []
        self.generation = 0
        self.errors: list[str] = []

    async def run(self) -> list[Scored]:
        """Evolve until the generations or the evaluation budget run out; returns the population."""
        try:
            await self._initialise()
            while self.generation < self.config.generations:
                await self._step()
        except BudgetExhausted:
            self.store.log_event("budget_exhausted", {"generation": self.generation})
        return self.population

    async def _initialise(self) -> None:
        self.progress({"phase": "initial population", "generation": 0})
        offspring = []
        islands = self.config.selection.islands
        for index in range(self.config.init_pop_size):
            try:
                offspring.append(Offspring(await self.generator.initial_structure(index), [], "initial",
                                           island=index % islands))
            except GenerationError as exc:
                self._generator_error(f"initial_structure {index}", exc)
        self._absorb(await self._educate(offspring, generation=0))
        self._record()

    async def _step(self) -> None:
        self.generation += 1
        self.progress({"phase": "variation", "generation": self.generation})
        variations = [v for island in range(len(self.book.islands))
                      for v in self.selector.plan(self.book, island, self.rng, self.config.crossover_rate,
                                                  self.config.mutation_rate)]
        offspring: list[Offspring] = []
        for variation in variations:
            try:
                if variation.role == "crossover":
                    child = await self.generator.crossover(variation.second.source, variation.first.source)
                else:
                    child = await self.generator.mutate(variation.first.source, variation.second.source)
                offspring.append(Offspring(child, variation.parents, variation.role, variation, variation.island))
            except GenerationError as exc:
                self._generator_error(variation.role, exc)
        self.progress({"phase": "education", "generation": self.generation, "offspring": len(offspring)})
        self._absorb(await self._educate(offspring, generation=self.generation))
        interval = self.config.selection.reset_interval
        if len(self.book.islands) > 1 and interval and self.generation % interval == 0:
            for reset in self.book.reset(self.rng):
                self.store.log_event("island_reset", {"generation": self.generation, **reset})
            self.population = self.book.population()
        self._record()
        if self.memory_hook is not None and self.generation % max(1, self.config.am_interval) == 0:
            self.progress({"phase": "adaptive memory", "generation": self.generation})
            await self.memory_hook(self.generation, self.population)

    async def _educate(self, offspring: list[Offspring], generation: int) -> list[tuple[Offspring, Scored]]:
        educated: list[tuple[Offspring, Scored]] = []
        for child in offspring:
            try:
                outcome = await self.educator.educate(child.source, generation=generation, parents=child.parents,
                                                      role=child.role)
            except BudgetExhausted:
                self._absorb(educated)
                self._record(partial=True)
                raise
            self.errors.extend(outcome.generator_errors)
            self.store.log_event("education", {
                "generation": generation, "role": child.role, "parents": child.parents, "island": child.island,
                "best_program": outcome.best.program_id if outcome.best is not None else None,
                **self.educator.summary(outcome), "errors": outcome.generator_errors})
            if outcome.best is not None:
                educated.append((child, outcome.best))
            self.progress({"phase": "education", "generation": generation, "educated": len(educated),
                           **self.educator.summary(outcome)})
        return educated

    def _absorb(self, educated: list[tuple[Offspring, Scored]]) -> None:
        """Credit parents' clusters with the offspring scores, then Select within each island."""
        for child, scored in educated:
            if child.variation is not None and scored.fitness is not None:
                self.book.credit(child.island, [child.variation.first, child.variation.second], scored.fitness)
        for island in range(len(self.book.islands)):
            self.book.absorb(island, [scored for child, scored in educated if child.island == island])
        self.population = self.book.population()

    def _generator_error(self, operation: str, exc: Exception) -> None:
        """Keep and log a generator failure of the GA's own operations."""
        self.errors.append(f"{operation}: {exc}")
        self.store.log_event("generator_error", {"generation": self.generation, "operation": operation,
                                                 "error": str(exc)})

    def _record(self, partial: bool = False) -> None:
        """Store the population and the selection state; a replayed generation must match what was stored."""
        if self.population:
            self.store.save_population(self.generation, [s.program_id for s in self.population])
        state = self.book.state()
        stored = self.store.selection_state(self.generation)
        if stored is not None and not stored["partial"] and not partial and stored["state"] != state:
            self.store.log_event("selection_state_diverged", {"generation": self.generation,
                                                              "stored": stored["state"], "replayed": state})
        self.store.save_selection_state(self.generation, state, partial=partial)
        best = self.population[0] if self.population else None
        self.store.log_event("generation", {"generation": self.generation,
                                            "best_fitness": best.fitness if best else None,
                                            "best_program": best.program_id if best else None,
                                            "population": [s.program_id for s in self.population],
                                            "islands": [[s.program_id for s in island.members]
                                                        for island in self.book.islands]})
        self.progress({"phase": "selected", "generation": self.generation,
                       "best_fitness": best.fitness if best else None})
