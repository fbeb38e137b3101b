"""Exterior layer (the paper's Algorithm 1): a genetic algorithm over solver structures.

The population is kept sorted by quality. Each generation, consecutive ranked
pairs are crossed with probability ``crossover_rate`` (the better one is the
second argument of the operator), every individual is mutated towards the
elite with probability ``mutation_rate``, every new structure is educated by
the interior layer, and the best ``max_pop_size`` survive. Every
``am_interval`` generations the adaptive memory is updated from the survivors.
Individuals already educated are not educated again (their evaluations are in
the store); the paper's line 18 educates the union only to complete new ones.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Awaitable, Callable

from beam.evaluate.service import BudgetExhausted, Scored, rank_key
from beam.generators.base import GenerationError, Generator
from beam.interior import Educator
from beam.store import RunStore

MemoryHook = Callable[[int, list[Scored]], Awaitable[None]]
ProgressHook = Callable[[dict], None]


@dataclass
class ExteriorConfig:
    """GA settings (paper, Table XIII/XIV)."""

    generations: int = 3
    init_pop_size: int = 4
    max_pop_size: int = 4
    crossover_rate: float = 0.7
    mutation_rate: float = 0.3
    am_interval: int = 1
    seed: int = 0


@dataclass
class Offspring:
    source: str
    parents: list[int]
    role: str


class Exterior:
    """Runs Algorithm 1; the population is a list of :class:`Scored`, best first."""

    def __init__(self, generator: Generator, educator: Educator, store: RunStore, config: ExteriorConfig,
                 memory_hook: MemoryHook | None = None, progress: ProgressHook | None = None):
        self.generator = generator
        self.educator = educator
        self.store = store
        self.config = config
        self.memory_hook = memory_hook
        self.progress = progress or (lambda info: None)
        self.rng = random.Random(config.seed)
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
        for index in range(self.config.init_pop_size):
            try:
                offspring.append(Offspring(await self.generator.initial_structure(index), [], "initial"))
            except GenerationError as exc:
                self._generator_error(f"initial_structure {index}", exc)
        self.population = self._select(await self._educate(offspring, generation=0))
        self._record()

    async def _step(self) -> None:
        self.generation += 1
        self.progress({"phase": "variation", "generation": self.generation})
        ranked = self.population
        offspring: list[Offspring] = []
        for better, worse in zip(ranked, ranked[1:]):
            if self.rng.random() < self.config.crossover_rate:
                try:
                    child = await self.generator.crossover(worse.source, better.source)
                    offspring.append(Offspring(child, [better.program_id, worse.program_id], "crossover"))
                except GenerationError as exc:
                    self._generator_error("crossover", exc)
        elite = ranked[0] if ranked else None
        for current in ranked:
            if elite is not None and self.rng.random() < self.config.mutation_rate:
                try:
                    child = await self.generator.mutate(current.source, elite.source)
                    offspring.append(Offspring(child, [current.program_id, elite.program_id], "mutation"))
                except GenerationError as exc:
                    self._generator_error("mutation", exc)
        self.progress({"phase": "education", "generation": self.generation, "offspring": len(offspring)})
        educated = await self._educate(offspring, generation=self.generation)
        self.population = self._select(self.population + educated)
        self._record()
        if self.memory_hook is not None and self.generation % max(1, self.config.am_interval) == 0:
            self.progress({"phase": "adaptive memory", "generation": self.generation})
            await self.memory_hook(self.generation, self.population)

    async def _educate(self, offspring: list[Offspring], generation: int) -> list[Scored]:
        educated: list[Scored] = []
        for child in offspring:
            try:
                outcome = await self.educator.educate(child.source, generation=generation, parents=child.parents,
                                                      role=child.role)
            except BudgetExhausted:
                self.population = self._select(self.population + educated)
                self._record()
                raise
            self.errors.extend(outcome.generator_errors)
            self.store.log_event("education", {
                "generation": generation, "role": child.role, "parents": child.parents,
                "best_program": outcome.best.program_id if outcome.best is not None else None,
                **self.educator.summary(outcome), "errors": outcome.generator_errors})
            if outcome.best is not None:
                educated.append(outcome.best)
            self.progress({"phase": "education", "generation": generation, "educated": len(educated),
                           **self.educator.summary(outcome)})
        return educated

    def _generator_error(self, operation: str, exc: Exception) -> None:
        """Keep and log a generator failure of the GA's own operations."""
        self.errors.append(f"{operation}: {exc}")
        self.store.log_event("generator_error", {"generation": self.generation, "operation": operation,
                                                 "error": str(exc)})

    def _select(self, individuals: list[Scored]) -> list[Scored]:
        unique = {s.program_id: s for s in individuals}
        return sorted(unique.values(), key=rank_key)[: self.config.max_pop_size]

    def _record(self) -> None:
        if self.population:
            self.store.save_population(self.generation, [s.program_id for s in self.population])
        best = self.population[0] if self.population else None
        self.store.log_event("generation", {"generation": self.generation,
                                            "best_fitness": best.fitness if best else None,
                                            "best_program": best.program_id if best else None,
                                            "population": [s.program_id for s in self.population]})
        self.progress({"phase": "selected", "generation": self.generation,
                       "best_fitness": best.fitness if best else None})
