"""TSP-GLS evaluator: the only code that sees the reference tour lengths.

The candidate's ``solve_tsp(distance, time_limit_s, seed)`` runs in a sandbox,
once per instance, and gets only the distance matrix, the dataset's time limit
and seed 0. Its answer must be a permutation of all cities (checked here); the
tour length is recomputed here from the distance matrix, never taken from the
candidate.

Per dataset: mean tour length, mean reference length (``data/references.json``,
see ``data/README.md``) and ``gap_percent`` = mean over instances of
``100 x (length - reference) / reference`` (negative when the candidate beats the
cached reference); ``fitness`` = minus the mean of ``gap_percent`` over the
split's datasets (higher is better).

Time: the host measures every call; a call longer than
``time_limit_s x 1.05 + time_grace_s`` (problem.toml) makes the candidate ``too_slow``.
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
SEED = 0

instances = import_by_path(HERE / "instances.py", "beam_problem_tsp_gls_instances")


class InvalidTour(ValueError):
    """The candidate's answer is not a tour of all cities."""


def sandbox_limits(problem, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]`` in problem.toml (keyword overrides win)."""
    return SandboxLimits.from_config(problem.section("limits"), **overrides)


def load_datasets(problem, split: str = "validation", workload_file: Path | None = None) -> list:
    """The datasets to score: one TSPLIB file (``workload_file``) or the split's."""
    if workload_file is not None:
        return [instances.load_file(Path(workload_file))]
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return instances.split_datasets(problem, split)


def checked_tour(output: Any, n: int) -> np.ndarray:
    """The candidate's answer as ``tour [n]`` int64; InvalidTour with the reason when it is not a permutation."""
    arr = np.asarray(output)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidTour(f"the tour must be a 1-D array of all {n} cities, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InvalidTour("the tour must hold integer city indices")
    elif arr.dtype.kind not in "iu":
        raise InvalidTour(f"the tour must hold integer city indices, got dtype {arr.dtype}")
    tour = arr.astype(np.int64)
    if tour.min() < 0 or tour.max() >= n:
        raise InvalidTour(f"city indices must be in 0..{n - 1}, got {int(tour.min())}..{int(tour.max())}")
    counts = np.bincount(tour, minlength=n)
    if np.any(counts != 1):
        missing = int(np.flatnonzero(counts == 0)[0])
        raise InvalidTour(f"the tour is not a permutation: city {missing} is missing "
                          f"and {int(np.sum(counts > 1))} cities repeat")
    return tour


def tour_length(distance: np.ndarray, tour: np.ndarray) -> float:
    """Length of the closed tour under ``distance`` (recomputed by the evaluator)."""
    return float(distance[tour, np.roll(tour, -1)].sum())


def gap_percent(length: float, reference: float) -> float:
    """``100 x (length - reference) / reference``."""
    return 100.0 * (length - reference) / reference


def solve_in_sandbox(box: Sandbox, instance, time_limit_s: float, grace_s: float) -> tuple[float, float]:
    """Solve one instance through the candidate's sandbox; ``(tour length, seconds in the call)``."""
    result = box.call(instance.distance, float(time_limit_s), SEED)
    allowed = time_limit_s * 1.05 + grace_s
    if result.seconds > allowed:
        raise SandboxError("too_slow", f"instance {instance.name}: {result.seconds:.2f} s, above the limit of "
                                       f"{time_limit_s:g} s (+5 % + {grace_s:g} s grace)")
    if len(result.outputs) != 1:
        raise InvalidTour(f"solve_tsp must return one array, got {len(result.outputs)} outputs")
    tour = checked_tour(result.outputs[0], instance.cities)
    return tour_length(instance.distance, tour), result.seconds


def score_dataset(box: Sandbox, data, grace_s: float, deadline: float | None) -> dict[str, Any]:
    """Lengths, references and gap of one dataset."""
    lengths, refs, gaps, seconds = [], [], [], []
    for instance in data.instances:
        if instance.reference is None:
            raise ValueError(f"{data.name}, instance {instance.name}: no reference length known (generated "
                             f"instances: run problems/tsp_gls/data/make_references.py; a TSPLIB file: put "
                             f"<name>.opt.tour beside it)")
        try:
            length, spent = solve_in_sandbox(box, instance, data.time_limit_s, grace_s)
        except InvalidTour as exc:
            raise InvalidTour(f"{data.name}, instance {instance.name}: {exc}") from None
        lengths.append(length)
        refs.append(instance.reference)
        gaps.append(gap_percent(length, instance.reference))
        seconds.append(spent)
        if deadline is not None and time.perf_counter() > deadline:
            raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
    gap = float(np.mean(gaps))
    return {"gap_percent": gap, "fitness": -gap, "length": float(np.mean(lengths)),
            "reference_length": float(np.mean(refs)), "seconds": float(np.mean(seconds)),
            "time_limit_s": data.time_limit_s, "instances": len(gaps), "cities": data.instances[0].cities,
            "gap_per_instance": gaps, "min_gap_percent": float(np.min(gaps))}


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "gap_percent": None, "datasets": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             datasets: list | None = None, **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every dataset of ``split``; never raises for a bad candidate (``valid: false``)."""
    if datasets is None:
        datasets = load_datasets(problem, split, workload_file)
    limits = sandbox_limits(problem, **limit_overrides)
    grace = float(problem.config["problem"].get("time_grace_s", 0.5))
    hidden = [problem.root]
    if workload_file:  # the file and its optimal tour, if any
        path = Path(workload_file).resolve()
        hidden += [p for p in (path, path.with_name(path.name.removesuffix(".tsp") + ".opt.tour")) if p.exists()]
    try:
        per_dataset, enforced = score_datasets(
            candidate, problem.entry, limits, problem.section("limits"), datasets,
            lambda box, data, deadline: score_dataset(box, data, grace, deadline), hidden)
    except SandboxError as exc:
        return failure(exc.kind, exc.message)
    except InvalidTour as exc:
        return failure("invalid", str(exc))
    gap = float(np.mean([d["gap_percent"] for d in per_dataset.values()]))
    seconds = float(np.mean([d["seconds"] for d in per_dataset.values()]))
    return {"valid": True, "error": None, "error_kind": None, "fitness": -gap, "gap_percent": gap,
            "seconds": seconds, "sandbox": enforced, "datasets": per_dataset}
