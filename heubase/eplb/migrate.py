"""Migration-aware rebalancing: count and avoid moving expert weights between GPUs.

Moving a replica means copying an expert's weights onto a GPU that did not
hold that expert before. Slot order inside a GPU is free (a GPU can relabel its
own slots without copying), so between an old and a new ``phy2log [L, R]`` the
replicas that must move onto GPU ``g`` are its new slots minus the largest
multiset of experts it holds in both plans.

* :func:`moved_replicas` — that count per layer.
* :func:`match_gpus` — relabel the new plan's GPUs (nodes first, then GPUs
  inside each node) to maximise what stays in place: an assignment problem per
  layer, solved exactly with ``scipy.optimize.linear_sum_assignment``. Balance is
  unchanged (a GPU's load does not depend on its label) and so is group locality.
* :func:`align_slots` — inside every GPU, put each kept expert back in its old slot.
* :func:`repair_in_place` — keep the old plan's nodes and slots, re-share each
  node's slots for the new loads and move only the replicas whose counts changed
  (heaviest first onto the least loaded GPU with a slot freed).
* :func:`keep_in_place` — per layer, the candidate plan (old, repaired, new) with
  the best balance net of a price per moved replica.
* :func:`rebalance_migration_aware` — the solver: any base plan, then the steps above.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from heubase.eplb.plan import build_log2phy, gpu_loads

Solver = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def _np(plan: torch.Tensor | np.ndarray) -> np.ndarray:
    return plan.detach().cpu().numpy() if isinstance(plan, torch.Tensor) else np.asarray(plan)


def _bin_counts(phy2log: np.ndarray, bins: int, experts: int) -> np.ndarray:
    """``[L, bins, E]`` replicas of every expert in each equal, contiguous block of slots."""
    layers, slots = phy2log.shape
    key = (np.arange(slots) // (slots // bins))[None, :] * experts + phy2log
    flat = (np.arange(layers)[:, None] * (bins * experts) + key).ravel()
    counts = np.bincount(flat, minlength=layers * bins * experts)  # one pass; np.add.at is far slower
    return counts.reshape(layers, bins, experts)


def moved_replicas(old_phy2log, new_phy2log, num_gpus: int) -> np.ndarray:
    """``[L]`` replicas that must be copied onto some GPU to go from the old plan to the new one.

    >>> moved_replicas(np.array([[0, 1, 2, 3]]), np.array([[1, 0, 3, 3]]), 2).tolist()
    [1]
    """
    old, new = _np(old_phy2log).astype(np.int64), _np(new_phy2log).astype(np.int64)
    if old.shape != new.shape:
        raise ValueError(f"plans of shapes {list(old.shape)} and {list(new.shape)} cannot be compared")
    experts = int(max(old.max(initial=0), new.max(initial=0))) + 1
    kept = np.minimum(_bin_counts(old, num_gpus, experts), _bin_counts(new, num_gpus, experts)).sum((1, 2))
    return new.shape[1] - kept


def _assign(overlap: np.ndarray) -> np.ndarray:
    """For a ``[n, n]`` overlap (new bin × old bin), the old bin each new bin takes (maximum total overlap)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(overlap, maximize=True)
    target = np.empty(len(rows), dtype=np.int64)
    target[rows] = cols
    return target


def match_gpus(new_phy2log, old_phy2log, num_gpus: int, num_nodes: int = 1) -> np.ndarray:
    """Relabel the new plan's nodes, then its GPUs inside each node, to keep the most replicas in place."""
    new, old = _np(new_phy2log).astype(np.int64), _np(old_phy2log).astype(np.int64)
    layers, slots = new.shape
    experts = int(max(old.max(initial=0), new.max(initial=0))) + 1
    per_node, per_gpu = slots // num_nodes, slots // num_gpus
    gpus_per_node = num_gpus // num_nodes
    out = np.empty_like(new)
    for layer in range(layers):
        row, old_row = new[layer], old[layer]
        if num_nodes > 1:
            a, b = _bin_counts(row[None], num_nodes, experts)[0], _bin_counts(old_row[None], num_nodes, experts)[0]
            node_of = _assign(np.minimum(a[:, None, :], b[None, :, :]).sum(2))
            moved = np.empty_like(row)
            for src, dst in enumerate(node_of):
                moved[dst * per_node:(dst + 1) * per_node] = row[src * per_node:(src + 1) * per_node]
            row = moved
        result = np.empty_like(row)
        for node in range(num_nodes):
            lo = node * per_node
            block, old_block = row[lo:lo + per_node], old_row[lo:lo + per_node]
            a = _bin_counts(block[None], gpus_per_node, experts)[0]
            b = _bin_counts(old_block[None], gpus_per_node, experts)[0]
            gpu_of = _assign(np.minimum(a[:, None, :], b[None, :, :]).sum(2))
            for src, dst in enumerate(gpu_of):
                result[lo + dst * per_gpu:lo + (dst + 1) * per_gpu] = block[src * per_gpu:(src + 1) * per_gpu]
        out[layer] = result
    return out


def align_slots(new_phy2log, old_phy2log, num_gpus: int) -> np.ndarray:
    """Reorder each GPU's slots so that every expert it keeps sits in the slot it had in the old plan.

    >>> align_slots(np.array([[3, 0, 1, 2]]), np.array([[0, 5, 2, 1]]), 2).tolist()
    [[0, 3, 2, 1]]
    """
    new, old = _np(new_phy2log).astype(np.int64), _np(old_phy2log).astype(np.int64)
    out = new.copy()
    layers, slots = new.shape
    per_gpu = slots // num_gpus
    for layer in range(layers):
        for lo in range(0, slots, per_gpu):
            wanted = list(new[layer, lo:lo + per_gpu])
            placed = [-1] * per_gpu
            for k, expert in enumerate(old[layer, lo:lo + per_gpu]):
                if expert in wanted:
                    wanted.remove(expert)
                    placed[k] = expert
            rest = iter(wanted)
            out[layer, lo:lo + per_gpu] = [e if e >= 0 else next(rest) for e in placed]
    return out


def layer_balance(weight: torch.Tensor, phy2log, num_gpus: int) -> torch.Tensor:
    """``[L]`` mean GPU load / max GPU load of every layer (1.0 where a layer has no load)."""
    loads = gpu_loads(weight, torch.as_tensor(_np(phy2log)), num_gpus)
    peak = loads.max(1).values
    return torch.where(peak > 0, loads.mean(1) / peak.clamp(min=1e-300), torch.ones_like(peak))


def repair_in_place(old_phy2log, weight: torch.Tensor, num_gpus: int, num_nodes: int = 1) -> np.ndarray:
    """Old plan with replica counts re-shared for ``weight`` inside each node, moving as little as possible.

    Every node keeps the experts it holds (so group locality holds if it held);
    :func:`heubase.eplb.fast.replicate_fast` shares the node's slots among them;
    a slot keeps its expert while that expert still needs replicas, the others
    are freed and refilled, heaviest replica first, on the least loaded GPU
    (by load per replica under the new counts) with a freed slot. A layer whose
    nodes do not hold equal numbers of distinct experts is returned unchanged.
    """
    from heubase.eplb.fast import replicate_fast

    old = _np(old_phy2log).astype(np.int64)
    layers, slots = old.shape
    per_node, per_gpu = slots // num_nodes, slots // num_gpus
    w = weight.detach().to("cpu", torch.float64).numpy()
    members = [[np.unique(old[l, n * per_node:(n + 1) * per_node]) for n in range(num_nodes)] for l in range(layers)]
    sizes = {len(m) for row in members for m in row}
    out = old.copy()
    if len(sizes) != 1:
        return out
    ids = np.array(members).reshape(layers * num_nodes, -1)                      # [L * N, E / N]
    node_w = np.take_along_axis(np.repeat(w, num_nodes, axis=0), ids, axis=1)
    counts = replicate_fast(torch.from_numpy(node_w), per_node).numpy()
    for row in range(layers * num_nodes):
        layer, node = divmod(row, num_nodes)
        need = dict(zip(ids[row].tolist(), counts[row].tolist()))
        share = {e: w[layer, e] / c for e, c in need.items()}
        lo = node * per_node
        block = out[layer, lo:lo + per_node]
        free = []
        for k, expert in enumerate(block.tolist()):
            if need[expert] > 0:
                need[expert] -= 1
            else:
                free.append(k)
        if not free:
            continue
        gpu_load = np.zeros(per_node // per_gpu)
        taken = np.zeros(per_node, dtype=bool)
        taken[free] = True
        for k in np.flatnonzero(~taken):
            gpu_load[k // per_gpu] += share[int(block[k])]
        missing = sorted((e for e, n in need.items() for _ in range(n)), key=lambda e: -share[e])
        open_slots = {g: [k for k in free if k // per_gpu == g] for g in range(len(gpu_load))}
        for expert in missing:
            g = min((g for g, ks in open_slots.items() if ks), key=lambda g: gpu_load[g])
            block[open_slots[g].pop()] = expert
            gpu_load[g] += share[expert]
    return out


def keep_in_place(candidates: list, old_phy2log, weight: torch.Tensor, num_gpus: int, min_gain: float = 0.0,
                  move_cost: float = 0.0) -> np.ndarray:
    """Per layer, the plan among the old one and ``candidates`` with the best balance on ``weight`` net of
    ``move_cost * (moved replicas / slots)``; a candidate must also beat the old plan by more than ``min_gain``."""
    old = _np(old_phy2log).astype(np.int64)
    w = weight.detach().to("cpu", torch.float64)
    best, best_score = old.copy(), layer_balance(w, old, num_gpus).numpy() + min_gain
    for plan in candidates:
        plan = _np(plan).astype(np.int64)
        score = layer_balance(w, plan, num_gpus).numpy() - move_cost * moved_replicas(old, plan, num_gpus) / old.shape[1]
        better = score > best_score
        best[better] = plan[better]
        best_score = np.where(better, score, best_score)
    return best


def rebalance_migration_aware(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                              num_gpus: int, old_phy2log: Optional[torch.Tensor] = None, *,
                              base: Optional[Solver] = None, min_gain: float = 0.0,
                              move_cost: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepSeek triple from ``base`` (default :func:`heubase.eplb.fast.rebalance_fast`), made migration-aware.

    With a previous plan ``old_phy2log [L, R]``: the new plan's nodes and GPUs are
    relabelled to keep the most replicas in place (:func:`match_gpus`), the old plan
    is repaired for the new loads (:func:`repair_in_place`), each layer takes the
    best of old, repaired and new net of ``move_cost`` per moved share of its slots
    (:func:`keep_in_place`), and kept experts keep their old slots (:func:`align_slots`). Without one, the
    base plan as is. The old plan must be valid for this cluster (e.g. the previous
    output of this solver); one of another shape is ignored.
    """
    if base is None:
        from heubase.eplb.fast import rebalance_fast as base
    plan = base(weight, num_replicas, num_groups, num_nodes, num_gpus)
    layers, experts = weight.shape
    if old_phy2log is None or tuple(old_phy2log.shape) != (layers, num_replicas):
        return plan
    old = _np(old_phy2log).astype(np.int64)
    if old.min() < 0 or old.max() >= experts:
        return plan
    nodes = num_nodes if num_groups % num_nodes == 0 else 1
    matched = match_gpus(plan[0], old, num_gpus, nodes)
    repaired = repair_in_place(old, weight, num_gpus, nodes)
    chosen = keep_in_place([matched, repaired], old, weight, num_gpus, min_gain, move_cost)
    phy2log = torch.from_numpy(align_slots(chosen, old, num_gpus))
    log2phy, logcnt = build_log2phy(phy2log, experts)
    return phy2log, log2phy, logcnt
