"""The Ray executor: each evaluation is a Ray task, run on whichever node of the cluster it lands.

The task loads the problem on its node (the problem folder travels with the
executor as a zip in Ray's object store) and runs the same evaluator and
sandbox as the local executor. A task that asks for a GPU (evaluation option
``device`` = ``cuda``) reserves one as a Ray resource. A task or node that
fails (worker killed, node lost, object lost, exception on the node) becomes an
``executor`` error on that candidate, and the run goes on.

Without an address a local Ray instance is started; with one
(``auto``, ``HOST:6379`` or ``ray://HOST:10001``) the driver joins that cluster
and ships this project's code to it with a ``working_dir`` runtime
environment (see the README, "Evaluating on a Ray cluster").
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
import socket
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from beam.evaluate.executor import Executor, ExecutorError, executor_failure
from beam.problem import Problem, load_problem

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# what the cluster does not need from the project folder (Ray also honours .gitignore)
PROJECT_EXCLUDES = [".git", ".venv", "runs", "examples", "benchmarks", "tests", "**/__pycache__", "*.egg-info"]
TASK_NAME = "beam_evaluate"  # Ray titles the worker process running it ``ray::beam_evaluate``


def pack_folder(root: Path) -> bytes:
    """A problem folder as zip bytes (no caches), in a stable order so equal folders give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def unpack_problem(blob: bytes, digest: str, name: str) -> Path:
    """Unpack a packed problem folder once per node (keyed by its digest); returns the folder."""
    home = Path(tempfile.gettempdir()) / "beam-ray-problems" / digest
    target = home / name
    if not target.is_dir():
        home.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=home))
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)  # atomic: concurrent tasks on one node never see half a folder
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another task got there first
    return target


def evaluate_on_node(blob: bytes, digest: str, name: str, source: str, split: str, options: dict[str, Any],
                     sandbox: str | None) -> dict[str, Any]:
    """Body of the Ray task: load the problem on this node and run its evaluator on ``source``."""
    from beam.evaluate.local import evaluate_source, with_sandbox

    problem = load_problem(unpack_problem(blob, digest, name))
    return evaluate_source(problem, source, split, with_sandbox(options, sandbox))


def describe_failure(exc: BaseException) -> str:
    """One line saying what Ray lost: the exception's class and the first line of its message."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and not isinstance(cause, type(exc)):
        head = (str(cause).strip().splitlines() or [""])[0]
        return f"the evaluation task raised {type(cause).__name__}: {head[:300]}"
    head = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {head[:300]}"


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``HOST:PORT`` nobody listens on (Ray itself retries for minutes); ``auto``/``ray://`` pass."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ExecutorError(f"could not connect to Ray at {address}: {exc}") from None


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs the ray package: pip install 'beam-solver-design[ray]'") from None
    return ray


class RayExecutor(Executor):
    """Evaluations as Ray tasks; at most ``workers`` in flight."""

    def __init__(self, problem: Problem, workers: int = 1, sandbox: str | None = None,
                 address: str | None = None):
        super().__init__(problem, workers)
        self.ray = _import_ray()
        self.address = address
        self.sandbox = sandbox
        self._started_ray = False
        if not self.ray.is_initialized():  # else: the caller's Ray session (and its runtime environment) is used
            if address:
                check_reachable(address)
            try:
                if address:
                    # Ray ships a local working_dir only for a whole job, so here, when the driver joins
                    self.ray.init(address=address, log_to_driver=False,
                                  runtime_env={"working_dir": str(PROJECT_ROOT), "excludes": PROJECT_EXCLUDES})
                else:
                    self.ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ExecutorError(f"could not connect to Ray at {address or 'a new local instance'}: "
                                    f"{describe_failure(exc)}") from None
            self._started_ray = True
        blob = pack_folder(problem.root)
        self._digest = hashlib.sha256(blob).hexdigest()[:16]
        self._blob = self.ray.put(blob)
        # max_retries=0: a lost evaluation is reported on its candidate, never silently run twice
        self._task = self.ray.remote(evaluate_on_node).options(name=TASK_NAME, max_retries=0)
        self._gpus: float | None = None

    @property
    def name(self) -> str:
        where = self.address or "local Ray instance"
        return f"ray ({where}, {self.sandbox or 'warm'} sandbox, {self.workers} in flight)"

    def _placement(self, options: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Options for the node and the GPUs to reserve: ``cuda``/``auto`` get a whole GPU when the cluster has one."""
        device = str(options.get("device") or self.problem.section("limits").get("device") or "cpu")
        if device == "cpu":
            return options, 0
        if self._gpus is None:
            self._gpus = float(self.ray.cluster_resources().get("GPU", 0))
        if device == "auto":
            return dict(options, device="cuda" if self._gpus >= 1 else "cpu"), int(self._gpus >= 1)
        if device.startswith("cuda"):
            if self._gpus < 1:
                raise ExecutorError(f"device {device!r} asked for, but the Ray cluster has no GPU")
            return dict(options, device="cuda"), 1  # the task sees only the GPU Ray gave it
        return options, 0

    async def _evaluate(self, source: str, split: str, options: dict[str, Any]) -> dict[str, Any]:
        try:
            options, gpus = self._placement(options)
        except ExecutorError as exc:
            return executor_failure("ray", str(exc))
        task = self._task.options(num_gpus=gpus) if gpus else self._task
        try:
            ref = task.remote(self._blob, self._digest, self.problem.root.name, source, split, options,
                              self.sandbox)
        except self.ray.exceptions.RayError as exc:
            return executor_failure("ray", describe_failure(exc))
        try:
            return await ref
        except asyncio.CancelledError:
            self.ray.cancel(ref, force=True)
            raise
        except self.ray.exceptions.RayError as exc:
            return executor_failure("ray", describe_failure(exc))

    def close(self) -> None:
        if self._started_ray and self.ray.is_initialized():
            self.ray.shutdown()
        self._started_ray = False
