"""The Ray executor on a local Ray instance: evaluation, a killed worker, an evolve joining an existing cluster."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from beam.evaluate.executor import make_executor
from beam.evaluate.ray_executor import TASK_NAME, RayExecutor
from beam.evaluate.service import EvaluationService
from beam.problem import load_problem
from beam.store import RunStore

pytestmark = pytest.mark.slow  # starting Ray alone takes ~10 s
ROOT = Path(__file__).resolve().parents[2]


def task_processes() -> list[int]:
    """Pids of Ray workers now running an evaluation task (their process title is ``ray::beam_evaluate``)."""
    title = f"ray::{TASK_NAME}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(title):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_ray_scores_like_the_local_executor(ray_instance, reproducible_eplb, reference_program, failing_program,
                                            sandbox_env):
    problem = load_problem(reproducible_eplb)

    async def score(executor):
        return await asyncio.gather(executor.submit(reference_program, "validation", {}),
                                    executor.submit(failing_program, "validation", {}))

    with make_executor("ray", problem, workers=2) as on_ray, make_executor("local", problem) as here:
        (good, bad), (local_good, local_bad) = asyncio.run(score(on_ray)), asyncio.run(score(here))
    assert good["valid"] and good["fitness"] == pytest.approx(local_good["fitness"])
    assert good["balancedness_gpu"] == pytest.approx(local_good["balancedness_gpu"])
    assert (bad["valid"], bad["error_kind"]) == (local_bad["valid"], local_bad["error_kind"]) == (False, "runtime")
    assert ray_instance.is_initialized(), "an executor must not shut down a Ray instance it did not start"


def test_cuda_without_a_gpu_in_the_cluster_is_an_executor_error(ray_instance, reproducible_eplb, reference_program):
    executor = RayExecutor(load_problem(reproducible_eplb))
    result = asyncio.run(executor.submit(reference_program, "validation", {"device": "cuda"}))
    assert (result["valid"], result["error_kind"]) == (False, "executor")
    assert "no GPU" in result["error"]


def test_killed_worker_becomes_an_executor_error_and_the_service_goes_on(ray_instance, reproducible_eplb,
                                                                          reference_program, tmp_path):
    problem = load_problem(reproducible_eplb)
    hanging = reference_program.replace("#Hyperparameter#\nMAX_TIME", "import time\ntime.sleep(120)\n"
                                        "#Hyperparameter#\nMAX_TIME", 1)
    killed: list[int] = []

    def kill_the_task_worker() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            pids = task_processes()
            if pids:
                time.sleep(1.0)  # let the task get into the evaluator and its sandbox
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                killed.extend(pids)
            time.sleep(0.1)

    with RunStore(tmp_path) as store:
        service = EvaluationService(problem, store, executor=RayExecutor(problem))
        killer = threading.Thread(target=kill_the_task_worker)
        killer.start()
        lost = asyncio.run(service.evaluate(hanging))
        killer.join()
        assert killed, "no Ray worker ran the evaluation task"
        assert (lost.result["valid"], lost.result["error_kind"]) == (False, "executor")
        assert lost.error.startswith("executor ray: ") and "died" in lost.error.lower(), lost.error
        assert store.evaluation(lost.program_id, "validation")["error_kind"] == "executor"
        following = asyncio.run(service.evaluate(reference_program))
        assert following.result["valid"], following.result


def test_small_evolve_through_an_existing_cluster(ray_instance, tmp_path):
    """`beam evolve problems/eplb --executor ray --ray-address ADDR` joins the running Ray instance.

    This is the path of a real cluster: the driver ships the project as a working_dir runtime environment.
    """
    address = ray_instance.get_runtime_context().gcs_address
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", "problems/eplb", "--executor", "ray",
                           "--ray-address", address, "--generations", "1", "--population", "2", "--evaluations", "6",
                           "--run-dir", str(run_dir), "--no-example"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"executor ray ({address}" in done.stdout
    with RunStore(run_dir) as store:
        evaluations = store.evaluations(split="validation")
        assert 0 < len(evaluations) <= 6 and any(e["valid"] for e in evaluations)
        assert not [e for e in evaluations if e["error_kind"] == "executor"]
        assert store.evaluations(split="test")[0]["valid"]
        assert json.dumps(store.get_run("executor")).startswith('"ray (')
