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


def sandbox_limits(problem, **overrides: Any) -> SandboxLimits:
    """Sandbox limits from ``[limits]`` in problem.toml (keyword overrides win)."""
    cfg = dict(problem.section("limits"), **overrides)
    known = SandboxLimits.__dataclass_fields__
    limits = SandboxLimits(**{k: v for k, v in cfg.items() if k in known})
    return dataclasses.replace(limits, device=resolve_device(limits.device))


def shape_fitness(problem, plan_metrics: dict[str, float], speedup: float) -> float:
    """Fitness of one shape from its mean plan metrics and speedup, as ``[fitness]`` in problem.toml defines it."""
    cfg = problem.section("fitness")
    clip = float(cfg.get("speed_log2_clip", 4.0))
    speed = max(-clip, min(clip, math.log2(max(speedup, 1e-12))))
    return (float(cfg.get("balance_weight", 1.0)) * plan_metrics["balancedness_gpu"]
            + float(cfg.get("same_window_weight", 0.0)) * plan_metrics["balancedness_gpu_same_window"]
            + float(cfg.get("speed_weight", 0.0)) * speed)


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


def _timed_call(box: Sandbox, other: Sandbox, window: np.ndarray, shape: dict, deadline: float | None = None):
    if deadline is not None and time.perf_counter() > deadline:
        raise SandboxError("timeout", "the evaluation took longer than evaluation_timeout_s")
    other.pause()
    try:
        return box.call(window, shape["num_replicas"], shape["num_groups"], shape["num_nodes"], shape["num_gpus"])
    finally:
        other.resume()


def _interleaved(candidate: Sandbox, reference: Sandbox, window: np.ndarray, shape: dict, turn: int,
                 deadline: float | None = None):
    """Time both on the same input, alternating who goes first."""
    pairs = ((candidate, reference), (reference, candidate))
    results = {}
    for box, other in (pairs if turn % 2 == 0 else pairs[::-1]):
        results[id(box)] = _timed_call(box, other, window, shape, deadline)
    return results[id(candidate)], results[id(reference)]


def _mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def score_shape(problem, candidate: Sandbox, reference: Sandbox, windows: np.ndarray, shape: dict,
                deadline: float | None = None) -> dict[str, Any]:
    """Run and score one cluster shape; raises ``metrics.InvalidPlan`` or ``SandboxError``."""
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
    for t in range(len(windows) - 1):
        cand, ref = _interleaved(candidate, reference, windows[t], shape, t, deadline)
        try:
            plan = metrics.check_plan(cand.outputs, layers, experts, slots)
        except metrics.InvalidPlan as exc:
            raise metrics.InvalidPlan(f"shape {shape['name']}, window {t}: {exc}") from None
        ref_plan = metrics.check_plan(ref.outputs, layers, experts, slots)
        cand_rows.append(metrics.plan_metrics(plan, windows[t], windows[t + 1], shape))
        ref_rows.append(metrics.plan_metrics(ref_plan, windows[t], windows[t + 1], shape))
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
    result.update(ms_per_call=ms, speedup_vs_reference=ref_ms / ms if ms > 0 else float("inf"))
    result["fitness"] = shape_fitness(problem, result, result["speedup_vs_reference"])
    result["reference"] = dict(_mean_metrics(ref_rows), ms_per_call=ref_ms)
    return result


def failure(kind: str, message: str) -> dict[str, Any]:
    """The result of a candidate that could not be scored."""
    return {"valid": False, "error": f"{kind}: {message}", "error_kind": kind, "fitness": None,
            "balancedness_gpu": None, "balancedness_expert": None, "ms_per_call": None,
            "speedup_vs_reference": None, "shapes": {}}


def evaluate(problem, candidate: Path, split: str = "validation", workload_file: Path | None = None,
             windows: np.ndarray | None = None, **limit_overrides: Any) -> dict[str, Any]:
    """Score ``candidate`` on every shape; never raises for a bad candidate (``valid: false``)."""
    if windows is None:
        windows = load_windows(problem, split, workload_file)
    limits = sandbox_limits(problem, **limit_overrides)
    hidden = [problem.root] + ([Path(workload_file).resolve()] if workload_file else [])
    shapes = problem.config.get("shapes") or []
    if not shapes:
        raise ValueError(f"{problem.root / 'problem.toml'}: no [[shapes]] to score")
    per_shape: dict[str, Any] = {}
    reference = reference_sandbox(problem, limits)
    timeout = float(problem.section("limits").get("evaluation_timeout_s", 0)) or None
    deadline = time.perf_counter() + timeout if timeout else None
    try:
        with Sandbox(candidate, problem.entry, limits, hidden_paths=tuple(hidden)) as box:
            for shape in shapes:
                per_shape[shape["name"]] = score_shape(problem, box, reference, windows, shape, deadline)
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
