"""Online bin-packing evaluator: the only code that sees the item sequences.

The candidate's ``priority(item, bins_remain_cap)`` runs in a sandbox and is
called once per arriving item with the item and the bins it fits in (see
``online.py``); it never sees a later item. This module applies every choice
(first maximum of the returned scores), keeps the bins and counts them: a
candidate returns scores only, so it cannot overfill a bin or report a count.

Per dataset: mean bins, mean L1 bound and ``excess_percent`` (FunSearch's
figure: mean bins over mean L1 bound, minus one, in percent), beside best fit
(the reference, run in-process). ``fitness`` = minus the mean of
``excess_percent`` over the split's datasets (higher is better).

Time: the host measures every call; an instance whose calls take more than
``items x max_time_s`` seconds in total (``max_time_s`` of problem.toml, the
``MAX_TIME`` per call written into skeletons) makes the candidate ``too_slow``.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import numpy as np

from beam.evaluate.datasets import score_datasets
from beam.evaluate import Sandbox, SandboxError, SandboxLimits
from beam.problem import import_by_path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "validation", "test")
DEADLINE_CHECK_EVERY = 128

instances = import_by_path(HERE / "instances.py", "beam_problem_binpack_instances")
online = import_by_path(HERE / "online.py", "beam_problem_binpack_online")


def sandbox_limits(problem, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]`` in problem.toml (keyword overrides win)."""
    return SandboxLimits.from_config(problem.section("limits"), **overrides)


def load_datasets(problem, split: str = "validation", workload_file: Path | None = None) -> list:
    """The datasets to score: one from ``workload_file`` (JSON, .npz or OR-Library text) or the split's."""
    if workload_file is not None:
        return [instances.load_file(Path(workload_file))]
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return instances.split_datasets(problem, split)


@functools.lru_cache(maxsize=64)
def _reference_bins(reference: str, key: tuple) -> tuple[int, ...]:
    module = import_by_path(Path(reference), "beam_problem_binpack_reference")
    return tuple(online.pack(np.frombuffer(items), capacity, module.priority) for items, capacity in key)


def reference_bins(problem, data) -> list[int]:
    """Bins best fit (``reference_solver.py``, trusted, in-process) uses on each instance of ``data``."""
    key = tuple((inst.items.tobytes(), inst.capacity) for inst in data.instances)
    return list(_reference_bins(str(problem.file("reference")), key))


def pack_in_sandbox(box: Sandbox, instance, max_time_s: float, deadline: float | None) -> tuple[int, float]:
    """Pack one instance online through the candidate's sandbox; ``(bins used, seconds in calls)``."""
    items = instance.items
    state = online.OnlinePacking(instance.capacity, len(items))
    budget = max_time_s * len(items) if max_time_s > 0 else float("inf")
    spent = 0.0
    for k, item in enumerate(items.tolist()):
        ids, view = state.view(item)
        result = box.call(item, view)
        spent += result.seconds
        if len(result.outputs) != 1:
            raise online.InvalidScores(f"priority must return one array, got {len(result.outputs)} outputs")
        state.place(item, int(ids[online.choose(result.outputs[0], len(ids))]))
        if spent > budget:
            raise SandboxError("too_slow", f"instance {instance.name}: {spent:.2f} s in calls after {k + 1} items, "
                                           f"above the budget of {budget:.2f} s ({max_time_s * 1000:g} ms per item)")
        if deadline is not None and k % DEADLINE_CHECK_EVERY == 0 and time.perf_counter() > deadline:
            raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
    return state.bins_used(), spent


def score_dataset(problem, box: Sandbox, data, max_time_s: float, deadline: float | None) -> dict[str, Any]:
    """Bins, L1 bounds and excess of one dataset, with best fit beside it."""
    bins, bounds, seconds = [], [], 0.0
    for instance in data.instances:
        try:
            used, spent = pack_in_sandbox(box, instance, max_time_s, deadline)
        except online.InvalidScores as exc:
            raise online.InvalidScores(f"{data.name}, instance {instance.name}: {exc}") from None
        bins.append(used)
        bounds.append(instances.l1_bound(instance.items, instance.capacity))
        seconds += spent
    items = int(sum(i.items.size for i in data.instances))
    ref = reference_bins(problem, data)
    excess = instances.excess_percent(bins, bounds)
    return {"excess_percent": excess, "fitness": -excess, "bins": float(np.mean(bins)),
            "l1_bound": float(np.mean(bounds)), "instances": len(bins), "items": items,
            "ms_per_item": 1000.0 * seconds / items, "bins_per_instance": bins,
            "reference": {"excess_percent": instances.excess_percent(ref, bounds), "bins": float(np.mean(ref))}}


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "excess_percent": None, "ms_per_item": None, "datasets": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             datasets: list | None = None, **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every dataset of ``split``; never raises for a bad candidate (``valid: false``)."""
    if datasets is None:
        datasets = load_datasets(problem, split, workload_file)
    limits = sandbox_limits(problem, **limit_overrides)
    max_time_s = float(problem.config["problem"].get("max_time_s", 0))
    hidden = [problem.root] + ([Path(workload_file).resolve()] if workload_file else [])
    try:
        per_dataset, enforced = score_datasets(
            candidate, problem.entry, limits, problem.section("limits"), datasets,
            lambda box, data, deadline: score_dataset(problem, box, data, max_time_s, deadline), hidden)
    except SandboxError as exc:
        return failure(exc.kind, exc.message)
    except online.InvalidScores as exc:
        return failure("invalid", str(exc))
    excess = float(np.mean([d["excess_percent"] for d in per_dataset.values()]))
    items = sum(d["items"] for d in per_dataset.values())
    ms = sum(d["ms_per_item"] * d["items"] for d in per_dataset.values()) / items
    reference = float(np.mean([d["reference"]["excess_percent"] for d in per_dataset.values()]))
    return {"valid": True, "error": None, "error_kind": None, "fitness": -excess, "excess_percent": excess,
            "ms_per_item": ms, "items": items, "reference": {"excess_percent": reference},
            "sandbox": enforced, "datasets": per_dataset}
