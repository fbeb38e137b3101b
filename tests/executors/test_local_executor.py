"""The local executor behind the evaluation service (real sandbox), its settings, and the executor contract."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beam.evaluate import SandboxLimits, warm
from beam.evaluate.executor import Executor, ExecutorError, make_executor
from beam.evaluate.local import LocalExecutor
from beam.evaluate.service import EvaluationService
from beam.evolve import EvolveOptions, open_run
from beam.problem import load_problem
from beam.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
def test_service_scores_through_the_local_executor(reproducible_eplb, reference_program, failing_program, tmp_path,
                                                  sandbox_env):
    problem = load_problem(reproducible_eplb)
    with LocalExecutor(problem, workers=2) as executor, RunStore(tmp_path) as store:
        service = EvaluationService(problem, store, executor=executor)

        async def both():
            return await asyncio.gather(service.evaluate(reference_program), service.evaluate(failing_program))

        good, bad = asyncio.run(both())
        assert good.result["valid"] and 0 < good.fitness <= 1, good.result
        assert not bad.result["valid"] and bad.result["error_kind"] == "runtime"
        assert "always fails" in bad.error
        assert store.evaluation(good.program_id, "validation")["fitness"] == pytest.approx(good.fitness)
        assert service.sandbox_runs == 2


@pytest.mark.parametrize("mode", ["warm", "fresh"])
def test_sandbox_option_chooses_how_workers_start(mode, reproducible_eplb, reference_program, sandbox_env):
    if mode == "warm" and not warm.warm_pool_supported():
        pytest.skip("no warm pool on this platform")
    problem = load_problem(reproducible_eplb)
    limits = SandboxLimits.from_config(problem.section("limits"))
    with make_executor("local", problem, sandbox=mode) as executor:
        before = warm.shared_pool(limits.torch_threads, limits.preload).spawned
        result = asyncio.run(executor.submit(reference_program, "validation", {}))
        forked = warm.shared_pool(limits.torch_threads, limits.preload).spawned - before
    assert result["valid"]
    assert mode in executor.name
    assert forked >= 1 if mode == "warm" else forked == 0


class CountingExecutor(Executor):
    """Stands in for the evaluation only: records how many run at once."""

    def __init__(self, workers: int):
        super().__init__(problem=None, workers=workers)
        self.running = self.peak = 0

    @property
    def name(self) -> str:
        return "counting"

    async def _evaluate(self, source, split, options):
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        return {"valid": True, "fitness": float(len(source)), "split": split}


def test_at_most_workers_evaluations_run_at_once_in_every_event_loop():
    executor = CountingExecutor(workers=2)

    async def many(n):
        return await asyncio.gather(*(executor.submit("x" * i, "validation", {}) for i in range(n)))

    results = asyncio.run(many(7))
    assert [r["fitness"] for r in results] == list(range(7)) and executor.peak == 2
    executor.peak = 0
    assert asyncio.run(many(3))[2]["fitness"] == 2 and executor.peak == 2  # a second loop (the test split) works


def test_bad_executor_settings_are_refused(reproducible_eplb, monkeypatch):
    problem = load_problem(reproducible_eplb)
    with pytest.raises(ExecutorError, match="unknown executor 'dask'"):
        make_executor("dask", problem)
    with pytest.raises(ExecutorError, match="unknown sandbox mode 'hot'"):
        make_executor("local", problem, sandbox="hot")
    with pytest.raises(ExecutorError, match="--ray-address needs --executor ray"):
        make_executor("local", problem, ray_address="auto")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(ExecutorError, match=r"pip install 'beam-solver-design\[ray\]'"):
        make_executor("ray", problem)


def test_cli_reports_a_bad_executor_setting_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", "problems/eplb", "--ray-address", "auto",
                           "--run-dir", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "beam: error: --ray-address needs --executor ray"
    assert not (tmp_path / "run").exists()


def test_a_run_may_be_resumed_on_another_executor(reproducible_eplb, tmp_path):
    problem = load_problem(reproducible_eplb)
    open_run(tmp_path, EvolveOptions(), problem, resume=False).close()
    other = EvolveOptions(executor="ray", ray_address="auto", sandbox="fresh", workers=4)
    open_run(tmp_path, other, problem, resume=True).close()  # no ResumeMismatch
    with pytest.raises(ValueError, match="same settings"):
        open_run(tmp_path, EvolveOptions(seed=1), problem, resume=True)


def test_unreachable_ray_address_fails_fast_in_one_line(tmp_path):
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", "problems/eplb", "--executor", "ray",
                           "--ray-address", address, "--run-dir", str(tmp_path / "run")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and time.monotonic() - started < 60
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"beam: error: could not connect to Ray at {address}: "), lines
