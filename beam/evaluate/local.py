"""The local executor: evaluations in threads of this process, each running the problem's evaluator.

The evaluator starts the candidate in a sandbox (a worker forked from the warm
parent, or a fresh interpreter with ``sandbox="fresh"``), so a thread only
waits on a child process; ``workers`` threads run at once.
"""
from __future__ import annotations

import asyncio
import functools
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from beam.evaluate.executor import Executor
from beam.problem import Problem


def evaluate_source(problem: Problem, source: str, split: str, options: dict[str, Any]) -> dict[str, Any]:
    """Write ``source`` to a private temporary file and run the problem's evaluator on it (blocking)."""
    with tempfile.TemporaryDirectory(prefix="beam-candidate-") as tmp:
        path = Path(tmp) / "candidate.py"
        path.write_text(source, encoding="utf-8")
        return problem.evaluate(path, split=split, **options)


_thread_pools: dict[int, ThreadPoolExecutor] = {}
_thread_pools_lock = threading.Lock()


def evaluation_threads(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads, kept until the process exits.

    Threads that outlive any one executor keep what the evaluator holds per
    thread (its warm reference solver) alive for the next run in the same process.
    """
    with _thread_pools_lock:
        if workers not in _thread_pools:
            _thread_pools[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="beam-eval")
        return _thread_pools[workers]


def with_sandbox(options: dict[str, Any], mode: str | None) -> dict[str, Any]:
    """Evaluation options asking the evaluator for ``warm`` or ``fresh`` sandboxes (None: its default).

    Evaluators hand unknown keyword options on to ``SandboxLimits``, whose
    ``fresh_process`` field picks how workers start.
    """
    return options if mode is None else dict(options, fresh_process=mode == "fresh")


class LocalExecutor(Executor):
    """Evaluations on this machine, ``workers`` at a time, each in its own sandbox."""

    def __init__(self, problem: Problem, workers: int = 1, sandbox: str | None = None):
        super().__init__(problem, workers)
        self.sandbox_option = sandbox
        self.sandbox = sandbox or os.environ.get("BEAM_SANDBOX", "warm")
        self._threads = evaluation_threads(self.workers)

    @property
    def name(self) -> str:
        return f"local ({self.sandbox} sandbox, {self.workers} worker{'s' if self.workers > 1 else ''})"

    async def _evaluate(self, source: str, split: str, options: dict[str, Any]) -> dict[str, Any]:
        call = functools.partial(evaluate_source, self.problem, source, split,
                                 with_sandbox(options, self.sandbox_option))
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)
