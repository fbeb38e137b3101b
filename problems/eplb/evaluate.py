"""EPLB evaluator: the only code that sees the next window.

For every cluster shape in ``problem.toml`` and every consecutive pair of
windows ``(t, t+1)``, the candidate (in its sandbox) receives window ``t`` only;
its plan is validated and scored on window ``t+1``. The reference solver runs in
a sandbox of its own on the same windows, interleaved call for call (the order
alternates; the idle worker is frozen meanwhile), so ``speedup_vs_reference`` is
a ratio of times taken side by side on the same machine in the same run. Inputs
are placed on the device (``[limits] device``: cpu, cuda or auto) before the
clock starts; a call's time ends when its outputs are back on the host's CPU.
"""
from __future__ import annotations

import atexit
import dataclasses
import math
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from beam.evaluate.datasets import evaluation_deadline
from beam.evaluate import Sandbox, SandboxError, SandboxLimits, device_name, resolve_device
from beam.problem import import_by_path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "validation", "test")


def _sibling(name: str):
    """Import a module that sits next to this file."""
    return import_by_path(HERE / f"{name}.py", f"beam_problem_eplb_{name}")


metrics = _sibling("metrics")
workloads = _sibling("workloads")


def load_windows(problem, split: str = "validation", workload_file: Path | None = None) -> np.ndarray:
    """``[W, L, E]`` int64 loads: from ``workload_file`` if given, else the synthetic ``split``."""
    if workload_file is not None:
        windows = workloads.load_workload(Path(workload_file))
    else:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        cfg = problem.section("workloads")
        windows = workloads.generate(int(cfg["seeds"][split]), windows=int(cfg["windows"]),
                                     layers=int(cfg["layers"]), experts=int(cfg["experts"]))
    if windows.ndim != 3 or windows.shape[0] < 2:
        raise ValueError(f"need at least 2 windows of shape [L, E] to score a plan on the next one, "
                         f"got shape {list(windows.shape)}")
    return np.ascontiguousarray(windows, dtype=np.int64)


#: ``[deployment]`` keys of problem.toml and their defaults (all opt-in: the defaults change nothing).
DEPLOYMENT_DEFAULTS = {
    "previous_plan": False,         # pass old_phy2log (the candidate's previous plan) to solvers that accept it
    "expert_bytes": 44040192,       # bytes of one expert's weights (DeepSeek-V3: 3 x 7168 x 2048 FP8)
    "migration_weight": 0.0,        # fitness -= migration_weight * share of slots whose replica moved
    "history_steps": 0,             # > 0: windows of this many steps; solvers that accept history get [S, L, E]
    "multi_step_objective": False,  # fitness uses balancedness_gpu_steps instead of balancedness_gpu
}


def deployment(problem) -> dict[str, Any]:
    """``[deployment]`` of problem.toml over :data:`DEPLOYMENT_DEFAULTS`; unknown keys are an error."""
    cfg = problem.section("deployment")
    unknown = sorted(set(cfg) - set(DEPLOYMENT_DEFAULTS))
    if unknown:
        raise ValueError(f"{problem.root / 'problem.toml'}: unknown [deployment] key(s) {unknown}")
    merged = dict(DEPLOYMENT_DEFAULTS, **cfg)
    if merged["multi_step_objective"] and int(merged["history_steps"]) < 1:
        raise ValueError(f"{problem.root / 'problem.toml'}: multi_step_objective needs history_steps >= 1")
    return merged


def load_history(problem, split: str = "validation", workload_file: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(windows [W, L, E], steps [W, S, L, E])`` with ``S = history_steps``: each window is the sum of its steps.

    Synthetic traffic is generated at step granularity (``W * S`` periods of
    ``1 / S`` of a window's tokens each); a trace file is read with its steps
    (``traces.load_trace``) and cut into windows of ``S`` consecutive steps.
    """
    per = int(deployment(problem)["history_steps"])
    if workload_file is not None:
        steps = _sibling("traces").load_trace(Path(workload_file)).steps
        if steps is None:
            raise ValueError(f"{workload_file}: holds no expert loads")
    else:
        cfg = problem.section("workloads")
        count = int(cfg["windows"]) * per
        steps = workloads.generate(int(cfg["seeds"][split]), windows=count, layers=int(cfg["layers"]),
                                   experts=int(cfg["experts"]),
                                   tokens_per_window=max(1, workloads.DEFAULT_TOKENS_PER_WINDOW // per))
    usable = steps.shape[0] // per
    if usable < 2:
        raise ValueError(f"need at least 2 windows of {per} steps, got {steps.shape[0]} steps")
    history = np.ascontiguousarray(steps[: usable * per].reshape(usable, per, *steps.shape[1:]), dtype=np.int64)
    return history.sum(axis=1), history


def sandbox_limits(problem, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]`` in problem.toml (keyword overrides win)."""
    limits = SandboxLimits.from_config(problem.section("limits"), **overrides)
    return dataclasses.replace(limits, device=resolve_device(limits.device))


def shape_fitness(problem, plan_metrics: dict[str, float], speedup: float, migrated_fraction: float = 0.0,
                  multi_step: bool = False, reference_metrics: dict[str, float] | None = None) -> float:
    """Fitness of one shape from its mean plan metrics and speedup, as ``[fitness]`` (and
    ``[deployment] migration_weight``) in problem.toml define it.

    With ``reference_metrics`` (the reference's plan on the same windows), a next-window
    balance below the reference's costs ``next_window_guard`` times the shortfall on top,
    and a same-window balance below the reference's ``same_window_guard`` times that shortfall.
    """
    cfg = problem.section("fitness")
    clip = float(cfg.get("speed_log2_clip", 4.0))
    speed = max(-clip, min(clip, math.log2(max(speedup, 1e-12))))
    key = "balancedness_gpu_steps" if multi_step else "balancedness_gpu"
    balance = plan_metrics[key]
    fitness = (float(cfg.get("balance_weight", 1.0)) * balance
               + float(cfg.get("same_window_weight", 0.0)) * plan_metrics["balancedness_gpu_same_window"]
               + float(cfg.get("speed_weight", 0.0)) * speed)
    if reference_metrics is not None:
        fitness -= float(cfg.get("next_window_guard", 0.0)) * max(0.0, reference_metrics[key] - balance)
        same = "balancedness_gpu_same_window"
        fitness -= float(cfg.get("same_window_guard", 0.0)) * max(0.0, reference_metrics[same] - plan_metrics[same])
    weight = float(deployment(problem)["migration_weight"])
    return fitness - weight * migrated_fraction if weight else fitness


_local = threading.local()


def reference_sandbox(problem, limits: SandboxLimits) -> Sandbox:
    """A warm sandbox running the reference solver, kept per thread across evaluations (it is trusted)."""
    key = (str(problem.file("reference")), problem.entry, repr(limits))
    cached = getattr(_local, "reference", None)
    if cached is not None and cached[0] == key and cached[1].alive():
        return cached[1]
    if cached is not None:
        cached[1].close()
    box = Sandbox(problem.file("reference"), problem.entry, limits).start()
    atexit.register(box.close)
    _local.reference = (key, box)
    return box


def _timed_call(box: Sandbox, other: Sandbox, window: np.ndarray, shape: dict, deadline: float | None = None,
                **extra: np.ndarray):
    if deadline is not None and time.perf_counter() > deadline:
        raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
    other.pause()
    try:
        return box.call(window, shape["num_replicas"], shape["num_groups"], shape["num_nodes"], shape["num_gpus"],
                        **extra)
    finally:
        other.resume()


def _interleaved(candidate: Sandbox, reference: Sandbox, window: np.ndarray, shape: dict, turn: int,
                 deadline: float | None = None, **extra: np.ndarray):
    """Time both on the same input, alternating who goes first; ``extra`` keywords go to the candidate only."""
    pairs = ((candidate, reference), (reference, candidate))
    results = {}
    for box, other in (pairs if turn % 2 == 0 else pairs[::-1]):
        results[id(box)] = _timed_call(box, other, window, shape, deadline, **(extra if box is candidate else {}))
    return results[id(candidate)], results[id(reference)]


def _extras(candidate: Sandbox, options: dict, previous: np.ndarray | None,
            history: np.ndarray | None) -> dict[str, np.ndarray]:
    """The optional inputs this candidate takes (by its signature) and the problem file enables."""
    extra = {}
    if options["previous_plan"] and previous is not None and candidate.accepts("old_phy2log"):
        extra["old_phy2log"] = previous
    if history is not None and candidate.accepts("history"):
        extra["history"] = history
    return extra


def _migration_metrics(plans: list[np.ndarray], shape: dict, expert_bytes: int) -> dict[str, float]:
    """Replicas moved per rebalance between consecutive plans, their share of all slots, and their bytes."""
    if len(plans) < 2:
        return {}
    moved = [metrics.migrations(a, b, shape["num_gpus"]) for a, b in zip(plans, plans[1:])]
    mean = float(np.mean(moved))
    return {"migrations_per_rebalance": mean, "migrated_fraction": mean / plans[0].size,
            "migration_bytes_per_rebalance": mean * expert_bytes}


def _mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def score_shape(problem, candidate: Sandbox, reference: Sandbox, windows: np.ndarray, shape: dict,
                deadline: float | None = None, history: np.ndarray | None = None) -> dict[str, Any]:
    """Run and score one cluster shape; raises ``metrics.InvalidPlan`` or ``SandboxError``.

    ``history [W, S, L, E]`` (the steps of every window) enables the per-step metric
    ``balancedness_gpu_steps`` and is handed to candidates that accept ``history``.
    """
    options = deployment(problem)
    layers, experts = windows.shape[1:]
    slots = shape["num_replicas"]
    cfg = problem.section("workloads")
    rng = np.random.default_rng(12345)
    warm_times = []
    for _ in range(int(cfg.get("warmup_calls", 2))):
        warm = rng.integers(0, 1000, size=(layers, experts), dtype=np.int64)
        warm_times.append(_timed_call(candidate, reference, warm, shape, deadline).seconds)
        _timed_call(reference, candidate, warm, shape, deadline)
    limit_ms = float(problem.section("limits").get("max_ms_per_call", 0))
    if limit_ms and warm_times and 1000 * min(warm_times) > limit_ms:
        raise SandboxError("too_slow", f"shape {shape['name']}: a call takes {1000 * min(warm_times):.0f} ms, "
                                       f"above the limit of {limit_ms:g} ms per call in problem.toml")
    cand_rows, ref_rows, cand_times, ref_times = [], [], [], []
    cand_plans: list[np.ndarray] = []
    ref_plans: list[np.ndarray] = []
    for t in range(len(windows) - 1):
        extra = _extras(candidate, options, cand_plans[-1] if cand_plans else None,
                        None if history is None else history[t])
        cand, ref = _interleaved(candidate, reference, windows[t], shape, t, deadline, **extra)
        try:
            plan = metrics.check_plan(cand.outputs, layers, experts, slots)
        except metrics.InvalidPlan as exc:
            raise metrics.InvalidPlan(f"shape {shape['name']}, window {t}: {exc}") from None
        ref_plan = metrics.check_plan(ref.outputs, layers, experts, slots)
        cand_rows.append(metrics.plan_metrics(plan, windows[t], windows[t + 1], shape))
        ref_rows.append(metrics.plan_metrics(ref_plan, windows[t], windows[t + 1], shape))
        if history is not None:
            cand_rows[-1]["balancedness_gpu_steps"] = metrics.step_balancedness(plan, history[t + 1], shape["num_gpus"])
            ref_rows[-1]["balancedness_gpu_steps"] = metrics.step_balancedness(ref_plan, history[t + 1],
                                                                               shape["num_gpus"])
        cand_plans.append(plan[0])
        ref_plans.append(ref_plan[0])
        cand_times.append(cand.seconds)
        ref_times.append(ref.seconds)
    for k in range(int(cfg.get("extra_timing_calls", 0))):
        # fresh, never-seen loads: more timing samples without ever repeating an input
        base = windows[k % len(windows)].astype(np.float64) + 1.0
        fresh = rng.multinomial(int(base.sum(1)[0]), base / base.sum(1, keepdims=True)).astype(np.int64)
        cand, ref = _interleaved(candidate, reference, fresh, shape, k, deadline)
        cand_times.append(cand.seconds)
        ref_times.append(ref.seconds)
    result = _mean_metrics(cand_rows)
    if shape.get("hierarchical") and result["group_locality"] < 1.0:
        raise metrics.InvalidPlan(
            f"shape {shape['name']}: group locality {result['group_locality']:.3f} < 1.0 — on a hierarchical "
            f"cluster every expert group's replicas must sit on one node")
    ms, ref_ms = 1000 * statistics.median(cand_times), 1000 * statistics.median(ref_times)
    expert_bytes = int(options["expert_bytes"])
    result.update(_migration_metrics(cand_plans, shape, expert_bytes))
    result.update(ms_per_call=ms, speedup_vs_reference=ref_ms / ms if ms > 0 else float("inf"))
    result["reference"] = dict(_mean_metrics(ref_rows), ms_per_call=ref_ms,
                               **_migration_metrics(ref_plans, shape, expert_bytes))
    result["fitness"] = shape_fitness(problem, result, result["speedup_vs_reference"],
                                      result.get("migrated_fraction", 0.0), bool(options["multi_step_objective"]),
                                      reference_metrics=result["reference"])
    return result


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "balancedness_gpu": None, "balancedness_expert": None, "ms_per_call": None,
            "speedup_vs_reference": None, "shapes": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             windows: np.ndarray | None = None, **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every shape; never raises for a bad candidate (``valid: false``)."""
    history = None
    if windows is None:
        if int(deployment(problem)["history_steps"]) > 0:
            windows, history = load_history(problem, split, workload_file)
        else:
            windows = load_windows(problem, split, workload_file)
    limits = sandbox_limits(problem, **limit_overrides)
    hidden = [problem.root] + ([Path(workload_file).resolve()] if workload_file else [])
    shapes = problem.config.get("shapes") or []
    if not shapes:
        raise ValueError(f"{problem.root / 'problem.toml'}: no [[shapes]] to score")
    per_shape: dict[str, Any] = {}
    reference = reference_sandbox(problem, limits)
    deadline = evaluation_deadline(problem.section("limits"))
    try:
        with Sandbox(candidate, problem.entry, limits, hidden_paths=tuple(hidden)) as box:
            for shape in shapes:
                per_shape[shape["name"]] = score_shape(problem, box, reference, windows, shape, deadline, history)
            enforced = box.enforced
    except SandboxError as exc:
        return failure(exc.kind, exc.message)
    except metrics.InvalidPlan as exc:
        return failure("invalid", str(exc))
    finally:
        reference.resume()
    default = per_shape[shapes[0]["name"]]
    summary = {key: value for key, value in default.items() if key not in ("fitness", "reference")}
    return {"valid": True, "error": None, "error_kind": None,
            "fitness": float(np.mean([s["fitness"] for s in per_shape.values()])),
            **summary, "reference": default["reference"], "default_shape": shapes[0]["name"],
            "windows": list(windows.shape), "sandbox": enforced, "device": device_name(limits.device),
            "shapes": per_shape}
