"""EPLB plan validation and metrics (pure functions, no sandbox, no I/O).

A plan is the DeepSeek triple ``(phy2log [L,R], log2phy [L,E,X], logcnt [L,E])``.
Tokens of an expert are split evenly over its replicas; slot ``r`` lives on GPU
``r // (R / num_gpus)`` and GPUs are split evenly over nodes.
"""
from __future__ import annotations

import numpy as np


class InvalidPlan(ValueError):
    """The candidate's outputs are not a valid plan; the message says exactly why."""


def check_plan(outputs: list[np.ndarray], layers: int, experts: int, slots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes, dtypes, ranges and mutual consistency; return ``(phy2log, log2phy, logcnt)``."""
    if len(outputs) != 3:
        raise InvalidPlan(f"expected 3 outputs (phy2log, log2phy, logcnt), got {len(outputs)}")
    phy2log, log2phy, logcnt = outputs
    for name, array, ndim in (("phy2log", phy2log, 2), ("log2phy", log2phy, 3), ("logcnt", logcnt, 2)):
        if array.dtype != np.int64:
            raise InvalidPlan(f"{name} must be int64, got {array.dtype}")
        if array.ndim != ndim:
            raise InvalidPlan(f"{name} must have {ndim} dimensions, got shape {list(array.shape)}")
    if phy2log.shape != (layers, slots):
        raise InvalidPlan(f"phy2log must have shape [{layers}, {slots}], got {list(phy2log.shape)}")
    if logcnt.shape != (layers, experts):
        raise InvalidPlan(f"logcnt must have shape [{layers}, {experts}], got {list(logcnt.shape)}")
    if log2phy.shape[:2] != (layers, experts):
        raise InvalidPlan(f"log2phy must have shape [{layers}, {experts}, X], got {list(log2phy.shape)}")
    if phy2log.min(initial=0) < 0 or phy2log.max(initial=0) >= experts:
        bad = np.argwhere((phy2log < 0) | (phy2log >= experts))[0]
        raise InvalidPlan(f"phy2log[{bad[0]}, {bad[1]}] = {phy2log[tuple(bad)]} is not an expert id in [0, {experts})")
    counts = np.zeros((layers, experts), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(layers), slots), phy2log.reshape(-1)), 1)
    if (counts == 0).any():
        layer, expert = np.argwhere(counts == 0)[0]
        raise InvalidPlan(f"expert {expert} of layer {layer} has no replica")
    if not np.array_equal(counts, logcnt):
        layer, expert = np.argwhere(counts != logcnt)[0]
        raise InvalidPlan(f"logcnt[{layer}, {expert}] = {logcnt[layer, expert]} but phy2log gives it "
                          f"{counts[layer, expert]} replicas")
    width = log2phy.shape[2]
    if width < counts.max():
        raise InvalidPlan(f"log2phy has {width} columns but an expert has {counts.max()} replicas")
    position = np.arange(width)
    used = position < logcnt[..., None]
    if (log2phy[~used] != -1).any():
        raise InvalidPlan("log2phy must hold each expert's slots first and pad the rest with -1")
    listed = log2phy[used]
    if listed.min(initial=0) < 0 or listed.max(initial=0) >= slots:
        raise InvalidPlan(f"log2phy lists a slot outside [0, {slots})")
    layer_of = np.broadcast_to(np.arange(layers)[:, None, None], log2phy.shape)[used]
    expert_of = np.broadcast_to(np.arange(experts)[None, :, None], log2phy.shape)[used]
    if not np.array_equal(phy2log[layer_of, listed], expert_of):
        raise InvalidPlan("log2phy lists a slot that phy2log assigns to another expert")
    seen = np.zeros((layers, slots), dtype=np.int64)
    np.add.at(seen, (layer_of, listed), 1)
    if (seen != 1).any():
        raise InvalidPlan("log2phy must list every slot exactly once per layer")
    return phy2log, log2phy, logcnt


def slot_loads(weight: np.ndarray, phy2log: np.ndarray, logcnt: np.ndarray) -> np.ndarray:
    """``[L, R]`` load of each slot under ``weight`` (an expert's load split evenly over its replicas)."""
    per_replica = weight.astype(np.float64) / logcnt
    return np.take_along_axis(per_replica, phy2log, axis=1)


def gpu_loads(weight: np.ndarray, phy2log: np.ndarray, logcnt: np.ndarray, num_gpus: int) -> np.ndarray:
    """``[L, G]`` load of each GPU."""
    loads = slot_loads(weight, phy2log, logcnt)
    return loads.reshape(loads.shape[0], num_gpus, -1).sum(-1)


def balancedness(loads: np.ndarray) -> float:
    """Σ_layers mean load / Σ_layers max load over the last axis (1.0 = perfectly even)."""
    peak = loads.max(axis=-1).sum()
    return float(loads.mean(axis=-1).sum() / peak) if peak > 0 else 1.0


def group_locality(phy2log: np.ndarray, num_groups: int, experts: int, num_nodes: int) -> float:
    """Share of (layer, expert group) pairs whose replicas all sit on one node."""
    layers, slots = phy2log.shape
    node = np.broadcast_to(np.arange(slots) // (slots // num_nodes), phy2log.shape)
    group = phy2log // (experts // num_groups)
    low = np.full((layers, num_groups), num_nodes, dtype=np.int64)
    high = np.full((layers, num_groups), -1, dtype=np.int64)
    rows = np.broadcast_to(np.arange(layers)[:, None], phy2log.shape)
    np.minimum.at(low, (rows, group), node)
    np.maximum.at(high, (rows, group), node)
    return float((low == high).mean())


def plan_metrics(plan: tuple[np.ndarray, np.ndarray, np.ndarray], current: np.ndarray, upcoming: np.ndarray,
                 shape: dict) -> dict[str, float]:
    """Balance of ``plan`` (made from ``current``) on ``upcoming`` and on ``current`` itself."""
    phy2log, _, logcnt = plan
    gpus = shape["num_gpus"]
    return {
        "balancedness_gpu": balancedness(gpu_loads(upcoming, phy2log, logcnt, gpus)),
        "balancedness_expert": balancedness(slot_loads(upcoming, phy2log, logcnt)),
        "balancedness_gpu_same_window": balancedness(gpu_loads(current, phy2log, logcnt, gpus)),
        "group_locality": group_locality(phy2log, shape["num_groups"], current.shape[1], shape["num_nodes"]),
    }


def step_balancedness(plan: tuple[np.ndarray, np.ndarray, np.ndarray], steps: np.ndarray, num_gpus: int) -> float:
    """Σ_steps Σ_layers mean GPU load / Σ_steps Σ_layers max GPU load of ``plan`` over ``steps [S, L, E]``.

    The denominator is the sum over steps of each step's busiest GPU, the
    quantity SGLang's vectorised algorithm minimises (a step waits for its busiest GPU).
    """
    phy2log, _, logcnt = plan
    loads = np.stack([gpu_loads(step, phy2log, logcnt, num_gpus) for step in steps])
    peak = loads.max(axis=-1).sum()
    return float(loads.mean(axis=-1).sum() / peak) if peak > 0 else 1.0


def migrations(previous: np.ndarray, current: np.ndarray, num_gpus: int) -> int:
    """Replicas copied onto some GPU between two consecutive ``phy2log`` plans (slot order in a GPU is free)."""
    from heubase.eplb.migrate import moved_replicas

    return int(moved_replicas(previous, current, num_gpus).sum())
