"""The engine's one door to evaluation: store-backed, budgeted, concurrent.

Every program the search wants scored goes through :meth:`EvaluationService.evaluate`:
it is stored (deduplicated by hash), looked up (a program already evaluated on
this split is never run again — this is what makes ``--resume`` free), checked
for completeness, made self-contained (adaptive-memory imports inlined), handed
to the run's executor (:mod:`beam.evaluate.executor`: local threads or Ray tasks,
at most ``workers`` at once; the service never knows which), and the result is
written to the store before it is returned.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from beam.evaluate.executor import Executor
from beam.problem import Problem
from beam.program import Program, ProgramError
from beam.store import RunStore

MEMORY_PREFIX = "memory."


class BudgetExhausted(Exception):
    """The run's evaluation budget is spent."""


@dataclass
class Scored:
    """A stored program and its evaluation result."""

    program_id: int
    source: str
    result: dict[str, Any]

    @property
    def fitness(self) -> float | None:
        return self.result.get("fitness") if self.result.get("valid") else None

    @property
    def error(self) -> str | None:
        return self.result.get("error")


def rank_key(scored: Scored) -> tuple[int, float, int]:
    """Sort key, best first: valid before invalid, higher fitness first, older program first on ties."""
    fitness = scored.fitness
    return (0 if fitness is not None else 1, -(fitness if fitness is not None else 0.0), scored.program_id)


@dataclass
class EvaluationService:
    """Scores program sources for the search; owns the evaluation budget."""

    problem: Problem
    store: RunStore
    split: str = "validation"
    workers: int = 1
    max_evaluations: int | None = None
    memory_dir: Path | None = None
    evaluate_options: dict[str, Any] = field(default_factory=dict)
    observers: list[Callable[[str, dict[str, Any]], None]] = field(default_factory=list)
    executor: Executor | None = None  # default: a local executor with ``workers`` threads

    def __post_init__(self) -> None:
        if self.executor is None:
            from beam.evaluate.local import LocalExecutor

            self.executor = LocalExecutor(self.problem, self.workers)
        self._requested: set[int] = set()
        self.sandbox_runs = 0
        self.cache_hits = 0
        self.started = time.perf_counter()

    @property
    def spent(self) -> int:
        """Distinct programs this run asked to evaluate (cached answers included, so a replay spends the same)."""
        return len(self._requested)

    def remaining(self) -> int | None:
        return None if self.max_evaluations is None else max(0, self.max_evaluations - self.spent)

    async def evaluate(self, source: str, *, kind: str = "realised", role: str = "", generation: int = 0,
                       parents: list[int] | tuple[int, ...] = (), meta: dict | None = None) -> Scored:
        """Score ``source`` on the service's split; raises :class:`BudgetExhausted` when the budget is spent."""
        program_id, _ = self.store.add_program(source, kind, role, generation, list(parents), meta or {})
        if program_id not in self._requested:
            if self.max_evaluations is not None and self.spent >= self.max_evaluations:
                raise BudgetExhausted(f"evaluation budget of {self.max_evaluations} spent")
            self._requested.add(program_id)
        stored = self.store.evaluation(program_id, self.split)
        if stored is not None:
            self.cache_hits += 1
            return Scored(program_id, source, self._result_of(stored))
        started = time.perf_counter()
        result = await self._run(source)
        self.store.record_evaluation(program_id, self.split, result, time.perf_counter() - started)
        for observer in self.observers:
            observer(source, result)
        return Scored(program_id, source, result)

    @staticmethod
    def _result_of(row: dict[str, Any]) -> dict[str, Any]:
        result = dict(row.get("metrics") or {})
        result.update(valid=bool(row["valid"]), fitness=row["fitness"], error=row["error"],
                      error_kind=row["error_kind"])
        return result

    def runnable(self, source: str) -> str:
        """Check ``source`` is a complete program and inline its memory imports (raises ProgramError)."""
        program = Program.parse(source)
        program.check_complete(self.problem.entry)
        if program.memory_imports(MEMORY_PREFIX.rstrip(".")):
            program = program.inline_imports(prefixes=(MEMORY_PREFIX,), resolver=self._memory_source)
        return program.source

    def _memory_source(self, module: str) -> str:
        if self.memory_dir is None:
            raise ProgramError(f"{module}: no adaptive memory in this run")
        path = self.memory_dir / Path(*module.split(".")).with_suffix(".py")
        if not path.is_file():
            raise ProgramError(f"{module}: not in the adaptive memory (it may have been evicted)")
        return path.read_text(encoding="utf-8")

    async def _run(self, source: str) -> dict[str, Any]:
        try:
            code = self.runnable(source)
        except ProgramError as exc:
            return {"valid": False, "fitness": None, "error": f"program: {exc}", "error_kind": "program"}
        self.sandbox_runs += 1
        return await self.executor.submit(code, self.split, self.evaluate_options)

    def rate_per_minute(self) -> float:
        minutes = (time.perf_counter() - self.started) / 60
        return self.sandbox_runs / minutes if minutes > 0 else 0.0
