"""Executors: where and how a candidate's evaluation runs, behind one small interface.

The engine (:class:`beam.evaluate.service.EvaluationService` and everything
above it) hands an executor a candidate's complete, self-contained source, the
split and the evaluation options, and awaits the problem evaluator's result
dict. It never learns which executor ran it:

* ``local`` (:mod:`beam.evaluate.local`) — threads on this machine, each
  running the problem's evaluator and its sandbox;
* ``ray`` (:mod:`beam.evaluate.ray_executor`) — one Ray task per evaluation,
  on whichever node of a Ray cluster it lands.

>>> executor = make_executor("local", problem, workers=2)   # doctest: +SKIP
>>> result = await executor.submit(source, "validation", {})  # doctest: +SKIP
>>> executor.close()                                         # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from beam.problem import Problem

EXECUTORS = ("local", "ray")
SANDBOX_MODES = ("warm", "fresh")


class ExecutorError(ValueError):
    """An executor was asked for with settings it cannot honour (unknown name, missing package)."""


def executor_failure(executor: str, message: str) -> dict[str, Any]:
    """The result of a candidate whose evaluation was lost by the executor (not the candidate's fault)."""
    return {"valid": False, "fitness": None, "error": f"executor {executor}: {message}", "error_kind": "executor"}


class Executor(ABC):
    """Runs evaluations; at most ``workers`` at once."""

    def __init__(self, problem: Problem, workers: int = 1):
        self.problem = problem
        self.workers = max(1, int(workers))
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    @property
    @abstractmethod
    def name(self) -> str:
        """A short description for logs, e.g. ``local (warm sandbox, 2 workers)``."""

    async def submit(self, source: str, split: str, options: dict[str, Any]) -> dict[str, Any]:
        """Evaluate ``source`` (a complete program) on ``split``; returns the evaluator's result dict."""
        async with self._slot():
            return await self._evaluate(source, split, dict(options))

    @abstractmethod
    async def _evaluate(self, source: str, split: str, options: dict[str, Any]) -> dict[str, Any]:
        """Run one evaluation (called with a concurrency slot held)."""

    def close(self) -> None:
        """Release what the executor holds (threads, cluster connection); idempotent."""

    def _slot(self) -> asyncio.Semaphore:
        # one semaphore per event loop: `beam evolve` runs the search and the test split in separate loops
        loop = id(asyncio.get_running_loop())
        if loop not in self._semaphores:
            self._semaphores = {loop: asyncio.Semaphore(self.workers)}
        return self._semaphores[loop]

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_executor(name: str, problem: Problem, workers: int = 1, *, sandbox: str | None = None,
                  ray_address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``) for ``problem``, running ``workers`` evaluations at once.

    ``sandbox`` (``warm`` or ``fresh``; default: warm where supported) says how
    the sandbox starts its workers; ``ray_address`` (``ray`` only) is an existing
    cluster to connect to (default: start a local Ray instance).
    """
    if sandbox is not None and sandbox not in SANDBOX_MODES:
        raise ExecutorError(f"unknown sandbox mode {sandbox!r}; choose one of {', '.join(SANDBOX_MODES)}")
    if name == "local":
        if ray_address:
            raise ExecutorError("--ray-address needs --executor ray")
        from beam.evaluate.local import LocalExecutor

        return LocalExecutor(problem, workers, sandbox=sandbox)
    if name == "ray":
        from beam.evaluate.ray_executor import RayExecutor

        return RayExecutor(problem, workers, sandbox=sandbox, address=ray_address)
    raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
