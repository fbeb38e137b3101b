"""Maximum-independent-set evaluator: the only code that sees the reference sizes.

The candidate's ``solve_mis(indptr, indices, time_limit_s, seed)`` runs in a
sandbox, once per graph, and gets only the graph, its time budget and a seed.
This module checks the returned ids completely (integers, in range, distinct,
no edge inside: :func:`checked_set`), counts them itself and compares the count
with the reference (KaMIS ReduMIS, cached in ``data/reference.json``, see
``reference.py``).

Per dataset: ``gap_percent`` (mean over graphs of ``100 (reference - size) /
reference``), ``mean_size``, ``reference_size`` and ``seconds_per_graph``.
``fitness`` = minus the mean gap over the split's datasets (higher is better).

Time: a call measured by the host above ``time_limit_s x time_factor +
time_grace_s`` (``[limits]`` of problem.toml) makes the candidate ``too_slow``.
One untimed warm-up call on a 5-cycle comes first, so that imports a
candidate makes inside its functions (HeuBase, scipy) are not charged to the
first graph.
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
WARM_UP = (np.array([0, 2, 4, 6, 8, 10]), np.array([1, 4, 0, 2, 1, 3, 2, 4, 0, 3]))  # the 5-cycle, untimed
WARM_UP_SECONDS = 0.05

instances = import_by_path(HERE / "instances.py", "beam_problem_mis_instances")
reference = import_by_path(HERE / "reference.py", "beam_problem_mis_reference")


class InvalidSet(ValueError):
    """A candidate returned something that is not an independent set of the graph."""


def checked_set(output: object, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The returned vertex ids as int64 after checking them; :class:`InvalidSet` says what is wrong.

    >>> path = (np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]))     # 0-1-2
    >>> checked_set(np.array([2, 0]), *path).tolist()
    [2, 0]
    >>> checked_set(np.array([0, 1]), *path)
    Traceback (most recent call last):
    ...
    evaluate.InvalidSet: vertices 0 and 1 are both in the set but adjacent
    """
    if not isinstance(output, np.ndarray):
        raise InvalidSet(f"solve_mis must return an array of vertex ids, got {type(output).__name__}")
    if output.ndim != 1:
        raise InvalidSet(f"the vertex ids must be a 1-D array, got shape {tuple(output.shape)}")
    if output.size and output.dtype.kind not in "iu":
        raise InvalidSet(f"the vertex ids must be integers, got dtype {output.dtype}")
    ids = output.astype(np.int64)
    n = len(indptr) - 1
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids[(ids < 0) | (ids >= n)][0]
        raise InvalidSet(f"vertex id {int(bad)} is outside [0, {n})")
    if np.unique(ids).size != ids.size:
        raise InvalidSet("the vertex ids contain repeats")
    chosen = np.zeros(n, dtype=bool)
    chosen[ids] = True
    rows = np.repeat(np.arange(n), np.diff(indptr))
    inside = np.flatnonzero(chosen[rows] & chosen[indices])
    if inside.size:
        raise InvalidSet(f"vertices {int(rows[inside[0]])} and {int(indices[inside[0]])} are both in the set "
                         f"but adjacent")
    return ids


def gap_percent(sizes: list[int], refs: list[int]) -> float:
    """Mean over graphs of ``100 (reference - size) / reference``.

    >>> gap_percent([19, 20], [20, 20])
    2.5
    """
    return float(np.mean([100.0 * (r - s) / r for s, r in zip(sizes, refs)])) if sizes else 0.0


def allowed_seconds(problem, time_limit_s: float) -> float:
    """Longest a call with budget ``time_limit_s`` may take before the candidate is ``too_slow``."""
    cfg = problem.section("limits")
    return time_limit_s * float(cfg.get("time_factor", 1.25)) + float(cfg.get("time_grace_s", 0.5))


def sandbox_limits(problem, datasets: list, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]``; the per-call timeout covers the slowest allowed call plus 5 s."""
    longest = max((allowed_seconds(problem, d.time_limit_s) for d in datasets), default=1.0)
    return SandboxLimits.from_config(problem.section("limits"), **{"call_timeout_s": longest + 5.0, **overrides})


def load_datasets(problem, split: str = "validation", workload_file: Path | None = None) -> list:
    """The datasets to score: one graph file (METIS, DIMACS or edge list) or the split's datasets."""
    if workload_file is not None:
        graph = instances.load_file(Path(workload_file))
        limit = float(problem.section("reference").get("default_time_s", 20.0))
        return [instances.Dataset(graph.name, (graph,), limit)]
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return instances.split_datasets(problem, split)


def _preset_spec(problem, data) -> dict | None:
    for specs in problem.section("splits").values():
        for spec in specs:
            if spec.get("name") == data.name:
                return spec
    return None


def score_dataset(problem, box: Sandbox, data, deadline: float | None) -> dict[str, Any]:
    """Sizes, reference sizes and gap of one dataset, calling the candidate once per graph."""
    sizes, seconds = [], []
    limit = allowed_seconds(problem, data.time_limit_s)
    for k, graph in enumerate(data.graphs):
        if deadline is not None and time.perf_counter() > deadline:
            raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
        result = box.call(graph.indptr, graph.indices, float(data.time_limit_s), k)
        if result.seconds > limit:
            raise SandboxError("too_slow", f"graph {graph.name}: the call took {result.seconds:.2f} s, above "
                                           f"the allowed {limit:.2f} s (time_limit_s {data.time_limit_s:g})")
        if len(result.outputs) != 1:
            raise InvalidSet(f"graph {graph.name}: solve_mis must return one array, got {len(result.outputs)}")
        try:
            sizes.append(int(checked_set(result.outputs[0], graph.indptr, graph.indices).size))
        except InvalidSet as exc:
            raise InvalidSet(f"graph {graph.name}: {exc}") from None
        seconds.append(result.seconds)
    refs, solvers = reference.reference_sizes(problem, data, reference.time_for(problem, _preset_spec(problem, data)))
    gap = gap_percent(sizes, refs)
    return {"gap_percent": gap, "fitness": -gap, "mean_size": float(np.mean(sizes)),
            "reference_size": float(np.mean(refs)), "seconds_per_graph": float(np.mean(seconds)),
            "time_limit_s": data.time_limit_s, "graphs": len(sizes), "sizes": sizes,
            "reference": {"gap_percent": 0.0, "mean_size": float(np.mean(refs)), "solver": sorted(solvers)}}


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "gap_percent": None, "datasets": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             datasets: list | None = None, **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every dataset of ``split``; never raises for a bad candidate (``valid: false``)."""
    if datasets is None:
        datasets = load_datasets(problem, split, workload_file)
    limits = sandbox_limits(problem, datasets, **limit_overrides)
    hidden = [problem.root] + ([Path(workload_file).resolve()] if workload_file else [])
    try:
        per_dataset, enforced = score_datasets(
            candidate, problem.entry, limits, problem.section("limits"), datasets,
            lambda box, data, deadline: score_dataset(problem, box, data, deadline), hidden,
            warm_up=lambda box: box.call(*WARM_UP, WARM_UP_SECONDS, 0))
    except SandboxError as exc:
        return failure(exc.kind, exc.message)
    except InvalidSet as exc:
        return failure("invalid", str(exc))
    gap = float(np.mean([d["gap_percent"] for d in per_dataset.values()]))
    return {"valid": True, "error": None, "error_kind": None, "fitness": -gap, "gap_percent": gap,
            "graphs": sum(d["graphs"] for d in per_dataset.values()), "sandbox": enforced,
            "datasets": per_dataset}
