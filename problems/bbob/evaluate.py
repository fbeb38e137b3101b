"""BBOB evaluator: the only code that sees the functions' optima and transformations.

The candidate's ``optimise(objective, dim, lower, upper, budget, seed)`` runs in
a sandbox. Its ``objective`` is a host callback (:mod:`beam.evaluate.callback`):
every call sends a batch of points to this process, which checks them (float,
``[n, d]`` or ``[d]``, finite, inside the box, within the budget), evaluates
them and sends the values back. The candidate never holds the function, its
optimum or the ``ioh`` problem object. It returns a point; this module checks
it (shape ``[d]``, finite, in the box), evaluates it and scores

* ``gap`` = f(returned point) - f_opt (0 is optimal), per run;
* per dataset (one function): mean ``gap`` (the paper's Table VI figure), mean
  ``log_gap`` = log10(gap + 1e-8), ``solved`` (share of runs with gap < 1e-8),
  mean evaluations used and seconds per run;
* ``fitness`` = minus the mean of the datasets' ``log_gap`` (higher is better,
  at most 8).

Time: ``max_time_s`` of problem.toml (the ``MAX_TIME`` of skeletons) per run,
counted by the host around the call minus its own time answering the
objective; over it the candidate is ``too_slow``. Beside each dataset, CMA-ES
of the ``cma`` package (``reference_solver.py``, trusted) is scored on the
same runs: its gaps come from ``data/cma_reference.json`` (written by
``python problems/bbob/reference_cache.py``) and are computed in-process, and
cached for the process, for runs that file lacks.
"""
from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from beam.evaluate.datasets import score_datasets
from beam.evaluate import CallbackRefused, HostCallback, Sandbox, SandboxError, SandboxLimits
from beam.problem import import_by_path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "validation", "test")
GAP_FLOOR = 1e-8
REFERENCE_CACHE = HERE / "data" / "cma_reference.json"

instances = import_by_path(HERE / "instances.py", "beam_problem_bbob_instances")


class InvalidSolution(ValueError):
    """The candidate's returned point is not a point of the box."""


class BudgetedObjective:
    """The host side of the candidate's ``objective``: checks each request, counts it, evaluates it."""

    def __init__(self, objective, dim: int, lower: float, upper: float, budget: int):
        self.objective, self.dim, self.lower, self.upper, self.budget = objective, dim, lower, upper, budget
        self.used = 0
        self.best = math.inf

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if len(arrays) != 1:
            raise CallbackRefused(f"objective takes one array of points, got {len(arrays)}")
        points = arrays[0]
        if points.dtype.kind not in "fiu":
            raise CallbackRefused(f"points must be floats, got dtype {points.dtype}")
        if points.ndim == 1:
            points = points[None, :]
        if points.ndim != 2 or points.shape[1] != self.dim or points.shape[0] < 1:
            raise CallbackRefused(f"points must have shape [n, {self.dim}] with n >= 1 (or [{self.dim}]), "
                                  f"got {list(arrays[0].shape)}")
        points = points.astype(np.float64, copy=False)
        if not np.isfinite(points).all():
            raise CallbackRefused("points must be finite (no NaN or inf)")
        outside = (points < self.lower) | (points > self.upper)
        if outside.any():
            row = int(np.flatnonzero(outside.any(axis=1))[0])
            raise CallbackRefused(f"point {row} of the batch lies outside the box [{self.lower:g}, {self.upper:g}]")
        if self.used + len(points) > self.budget:
            raise CallbackRefused(f"evaluation budget exhausted: {len(points)} more points asked after "
                                  f"{self.used} of {self.budget}")
        self.used += len(points)
        values = np.ascontiguousarray(self.objective.f(points), dtype=np.float64)
        self.best = min(self.best, float(values.min()))
        return values


def function_packages() -> list[Path]:
    """Folders of the packages that define the functions (``ioh``): hidden from the candidate where the
    sandbox can hide paths, so it cannot rebuild an instance it has fingerprinted and read its optimum."""
    import importlib.util

    spec = importlib.util.find_spec("ioh")
    return [Path(p) for p in (spec.submodule_search_locations or [])] if spec is not None else []


def sandbox_limits(problem, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]`` in problem.toml (keyword overrides win)."""
    return SandboxLimits.from_config(problem.section("limits"), **overrides)


def load_datasets(problem, split: str = "validation", workload_file: Path | None = None) -> list:
    """The datasets to score: those of a JSON file (see ``instances.load_file``) or of the split."""
    if workload_file is not None:
        per_dim = int(problem.config["problem"].get("budget_per_dim", 2000))
        return instances.load_file(Path(workload_file), per_dim)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return instances.split_datasets(problem, split)


def solution_point(outputs: list[np.ndarray], dim: int) -> np.ndarray:
    """The returned point as float64 ``[dim]`` inside the box; :class:`InvalidSolution` otherwise."""
    if len(outputs) != 1:
        raise InvalidSolution(f"optimise must return one array, got {len(outputs)}")
    x = outputs[0]
    if x.dtype.kind not in "fiu" or x.size != dim or x.ndim > 2:
        raise InvalidSolution(f"optimise must return a float array of shape [{dim}], got {x.dtype} {list(x.shape)}")
    x = x.reshape(dim).astype(np.float64)
    if not np.isfinite(x).all():
        raise InvalidSolution("the returned point has NaN or inf")
    if ((x < instances.LOWER) | (x > instances.UPPER)).any():
        raise InvalidSolution(f"the returned point lies outside the box [{instances.LOWER:g}, {instances.UPPER:g}]")
    return x


def gap_of(objective, x: np.ndarray) -> float:
    """``f(x) - f_opt`` (never below 0)."""
    return max(float(objective.f(x[None, :])[0]) - objective.f_opt, 0.0)


def log_gap(gap: float) -> float:
    return math.log10(gap + GAP_FLOOR)


def run_in_sandbox(box: Sandbox, run, max_time_s: float) -> dict[str, Any]:
    """One optimisation run of the candidate; its gap, evaluations used and own seconds."""
    objective = instances.objective(run)
    served = BudgetedObjective(objective, run.dim, instances.LOWER, instances.UPPER, run.budget)
    result = box.call(HostCallback(served), run.dim, instances.LOWER, instances.UPPER, run.budget, run.seed)
    if max_time_s > 0 and result.seconds > max_time_s:
        raise SandboxError("too_slow", f"run {run.name}: {result.seconds:.2f} s of solver time, above the "
                                       f"budget of {max_time_s:g} s per run")
    try:
        x = solution_point(result.outputs, run.dim)
    except InvalidSolution as exc:
        raise InvalidSolution(f"run {run.name}: {exc}") from None
    return {"gap": gap_of(objective, x), "best_seen_gap": max(served.best - objective.f_opt, 0.0),
            "evaluations": served.used, "seconds": result.seconds, "requests": result.requests}


@functools.lru_cache(maxsize=512)
def _reference_gap(reference: str, run) -> float:
    module = import_by_path(Path(reference), "beam_problem_bbob_reference")
    objective = instances.objective(run)
    served = BudgetedObjective(objective, run.dim, instances.LOWER, instances.UPPER, run.budget)
    return gap_of(objective, solution_point([np.asarray(module.optimise(
        served, run.dim, instances.LOWER, instances.UPPER, run.budget, run.seed))], run.dim))


def run_key(run) -> str:
    """Key of a run in the reference cache: function, instance, dimension, budget and seed."""
    return f"{run.name}/b{run.budget}/s{run.seed}"


@functools.lru_cache(maxsize=1)
def cached_reference() -> dict[str, float]:
    """Gaps of the reference per :func:`run_key`, from ``data/cma_reference.json`` (empty if absent)."""
    if not REFERENCE_CACHE.is_file():
        return {}
    record = json.loads(REFERENCE_CACHE.read_text(encoding="utf-8"))
    return {str(k): float(v) for k, v in record["gaps"].items()}


def reference_gaps(problem, data) -> list[float]:
    """Gaps of CMA-ES (``reference_solver.py``, trusted) on ``data``'s runs: cached on disk, else computed."""
    cache = cached_reference()
    return [cache[run_key(run)] if run_key(run) in cache else _reference_gap(str(problem.file("reference")), run)
            for run in data.runs]


def summary(gaps: list[float]) -> dict[str, float]:
    """Mean gap, mean log10 gap and share solved of a list of gaps."""
    return {"gap": float(np.mean(gaps)), "log_gap": float(np.mean([log_gap(g) for g in gaps])),
            "solved": float(np.mean([g < GAP_FLOOR for g in gaps]))}


def score_dataset(problem, box: Sandbox, data, max_time_s: float, deadline: float | None,
                  reference: bool = True) -> dict[str, Any]:
    runs = []
    for run in data.runs:
        runs.append(run_in_sandbox(box, run, max_time_s))
        if deadline is not None and time.perf_counter() > deadline:
            raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
    gaps = [r["gap"] for r in runs]
    out = summary(gaps)
    out.update({"fitness": -out["log_gap"], "runs": len(runs),
                "evaluations": float(np.mean([r["evaluations"] for r in runs])),
                "seconds": float(np.mean([r["seconds"] for r in runs])),
                "requests": float(np.mean([r["requests"] for r in runs])), "gaps": gaps,
                "best_seen_gap": float(np.mean([r["best_seen_gap"] for r in runs]))})
    if reference:
        out["reference"] = summary(reference_gaps(problem, data))
    return out


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "gap": None, "log_gap": None, "datasets": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             datasets: list | None = None, reference: bool = True, **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every dataset of ``split``; never raises for a bad candidate (``valid: false``)."""
    if datasets is None:
        datasets = load_datasets(problem, split, workload_file)
    limits = sandbox_limits(problem, **limit_overrides)
    max_time_s = float(problem.config["problem"].get("max_time_s", 0))
    hidden = [problem.root, *function_packages()] + ([Path(workload_file).resolve()] if workload_file else [])
    try:
        per_dataset, enforced = score_datasets(
            candidate, problem.entry, limits, problem.section("limits"), datasets,
            lambda box, data, deadline: score_dataset(problem, box, data, max_time_s, deadline, reference), hidden)
    except SandboxError as exc:
        return failure(exc.kind, exc.message)
    except InvalidSolution as exc:
        return failure("invalid", str(exc))
    log = float(np.mean([d["log_gap"] for d in per_dataset.values()]))
    out = {"valid": True, "error": None, "error_kind": None, "fitness": -log, "log_gap": log,
           "gap": float(np.mean([d["gap"] for d in per_dataset.values()])),
           "seconds": float(np.mean([d["seconds"] for d in per_dataset.values()])),
           "sandbox": enforced, "datasets": per_dataset}
    if reference:
        ref = [d["reference"] for d in per_dataset.values()]
        out["reference"] = {"log_gap": float(np.mean([r["log_gap"] for r in ref])),
                            "gap": float(np.mean([r["gap"] for r in ref]))}
    return out
