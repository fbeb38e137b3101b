"""CVRP evaluator: the only code that sees the reference solutions.

The candidate's ``solve_cvrp(coords, demands, capacity, time_limit_s, seed)``
runs in a sandbox, once per instance, with that instance's time limit; it never
sees the reference. This module checks every returned solution completely
(``validate.py``: known ids only, each customer exactly once, capacity per
route), recomputes its Euclidean cost, and compares it with the cached HGS
cost (``data/references.json``, made by ``reference.py``).

Per dataset: mean cost, mean reference cost and ``gap_percent`` (mean of the
per-instance gaps). ``fitness`` = minus the mean ``gap_percent`` over the
split's datasets (higher is better). A file given with ``workload_file`` (a
VRPLIB ``.vrp``) has no reference unless one is cached for it: it is scored by
cost alone (``fitness`` = minus the mean cost, ``gap_percent`` None).

Time: a call longer than ``time_limit_s · (1 + time_slack) + grace_s``
(``[limits]``) makes the candidate ``too_slow``; a call still running at
``2 · time_limit_s + 5`` s is killed (also ``too_slow``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from beam.evaluate.datasets import score_datasets
from beam.evaluate import Sandbox, SandboxError, SandboxLimits
from beam.problem import import_by_path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "validation", "test")
FILE_TIME_LIMIT_S = 10.0

instances = import_by_path(HERE / "instances.py", "beam_problem_cvrp_instances")
validate = import_by_path(HERE / "validate.py", "beam_problem_cvrp_validate")
reference = import_by_path(HERE / "reference.py", "beam_problem_cvrp_reference")


def sandbox_limits(problem, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]`` in problem.toml (keyword overrides win)."""
    return SandboxLimits.from_config(problem.section("limits"), **overrides)


def load_datasets(problem, split: str = "validation", workload_file: Path | None = None,
                  time_limit_s: float = FILE_TIME_LIMIT_S) -> list:
    """The datasets to score: one VRPLIB file (``time_limit_s`` per call) or the split's datasets."""
    if workload_file is not None:
        return [instances.file_dataset(Path(workload_file), time_limit_s)]
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return instances.split_datasets(problem, split)


def reference_costs(problem, data, required: bool) -> list[float | None]:
    """Cached HGS cost of each instance of ``data`` (None where absent and not ``required``)."""
    cache = reference.load_cache(problem.root / "data" / "references.json")["instances"]
    costs = []
    for inst in data.instances:
        entry = cache.get(inst.fingerprint())
        if entry is None and required:
            raise FileNotFoundError(f"{problem.root / 'data' / 'references.json'}: no reference for {inst.name}; "
                                    f"run python problems/cvrp/reference.py")
        costs.append(None if entry is None else float(entry["cost"]))
    return costs


def solve_in_sandbox(box: Sandbox, inst, time_limit_s: float, seed: int, limits: dict) -> tuple[float, float]:
    """Run the candidate on one instance; ``(checked cost, seconds)``; raises SandboxError / InvalidSolution."""
    slack, grace = float(limits.get("time_slack", 0.1)), float(limits.get("grace_s", 1.0))
    allowed = time_limit_s * (1.0 + slack) + grace
    box.limits.call_timeout_s = 2.0 * time_limit_s + 5.0
    try:
        result = box.call(inst.coords, inst.demands, float(inst.capacity), float(time_limit_s), int(seed))
    except SandboxError as exc:
        if exc.kind == "timeout":
            raise SandboxError("too_slow", f"instance {inst.name}: still running after {box.limits.call_timeout_s:g} s "
                                           f"(time limit {time_limit_s:g} s)") from None
        raise
    if result.seconds > allowed:
        raise SandboxError("too_slow", f"instance {inst.name}: took {result.seconds:.2f} s, above the allowed "
                                       f"{allowed:.2f} s (time limit {time_limit_s:g} s)")
    try:
        cost = validate.checked_cost(validate.routes_of(result.outputs), inst)
    except validate.InvalidSolution as exc:
        raise validate.InvalidSolution(f"instance {inst.name}: {exc}") from None
    return cost, result.seconds


def score_dataset(problem, box: Sandbox, data, required: bool, deadline: float | None) -> dict[str, Any]:
    """Costs, reference costs and gaps of one dataset."""
    refs = reference_costs(problem, data, required)
    limits = problem.section("limits")
    costs, seconds, gaps = [], [], []
    for k, inst in enumerate(data.instances):
        if deadline is not None and time.perf_counter() > deadline:
            raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
        cost, spent = solve_in_sandbox(box, inst, data.time_limit_s, k + 1, limits)
        costs.append(cost)
        seconds.append(spent)
        if refs[k] is not None:
            gaps.append(validate.gap_percent(cost, refs[k]))
    scored = len(gaps) == len(costs)
    gap = float(np.mean(gaps)) if scored else None
    return {"gap_percent": gap, "fitness": -gap if scored else -float(np.mean(costs)),
            "cost": float(np.mean(costs)), "reference_cost": float(np.mean(refs)) if scored else None,
            "instances": len(costs), "customers": data.instances[0].customers, "time_limit_s": data.time_limit_s,
            "seconds_per_instance": float(np.mean(seconds)), "gaps": gaps, "costs": costs}


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "gap_percent": None, "datasets": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             datasets: list | None = None, time_limit_s: float = FILE_TIME_LIMIT_S,
             **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every dataset of ``split``; never raises for a bad candidate (``valid: false``)."""
    if datasets is None:
        datasets = load_datasets(problem, split, workload_file, time_limit_s)
    required = workload_file is None
    limits = sandbox_limits(problem, **limit_overrides)
    hidden = [problem.root] + ([Path(workload_file).resolve()] if workload_file else [])
    try:
        per_dataset, enforced = score_datasets(
            candidate, problem.entry, limits, problem.section("limits"), datasets,
            lambda box, data, deadline: score_dataset(problem, box, data, required, deadline), hidden)
    except SandboxError as exc:
        return failure(exc.kind, exc.message)
    except validate.InvalidSolution as exc:
        return failure("invalid", str(exc))
    fitness = float(np.mean([d["fitness"] for d in per_dataset.values()]))
    gaps = [d["gap_percent"] for d in per_dataset.values()]
    gap = float(np.mean(gaps)) if all(g is not None for g in gaps) else None
    return {"valid": True, "error": None, "error_kind": None, "fitness": fitness, "gap_percent": gap,
            "cost": float(np.mean([d["cost"] for d in per_dataset.values()])),
            "seconds_per_instance": float(np.mean([d["seconds_per_instance"] for d in per_dataset.values()])),
            "sandbox": enforced, "datasets": per_dataset}
