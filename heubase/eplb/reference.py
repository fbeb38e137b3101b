"""Reference solvers equivalent to DeepSeek's published EPLB policy.

The policy: hierarchical when ``num_groups % num_nodes == 0`` (groups → nodes by
cardinality-constrained LPT, min–max greedy replication inside each node,
replicas → GPUs by LPT), otherwise the same steps with one group and one node.

* :func:`rebalance_experts` — vectorised over layers; the evaluator's speed reference.
* :func:`rebalance_experts_per_layer` — the same policy with plain Python loops over
  layers and items, as the published implementation is structured; it is slow
  (hundreds of ms) and exists to check equivalence and to show the speed gap.
"""
from __future__ import annotations

import heapq

import torch

from heubase.eplb.hierarchical import check_cluster, finish_plan, is_hierarchical, place_hierarchical


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepSeek-equivalent plan, vectorised. Returns ``(phy2log, log2phy, logcnt)`` (int64)."""
    weight = weight.float().cpu()
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    phy2log = place_hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return finish_plan(phy2log, weight.shape[1])


def _lpt_one(loads: list[float], num_packs: int) -> list[int]:
    """LPT with equal pack sizes for one list of loads (plain Python)."""
    capacity = len(loads) // num_packs
    if capacity == 1:
        return list(range(len(loads)))
    order = sorted(range(len(loads)), key=lambda i: -loads[i])
    pack_load = [0.0] * num_packs
    pack_size = [0] * num_packs
    result = [0] * len(loads)
    for item in order:
        best = min((p for p in range(num_packs) if pack_size[p] < capacity), key=lambda p: pack_load[p])
        result[item] = best
        pack_load[best] += loads[item]
        pack_size[best] += 1
    return result


def _greedy_counts_one(loads: list[float], slots: int) -> list[int]:
    """Min–max greedy replication for one layer with a heap (plain Python)."""
    counts = [1] * len(loads)
    heap = [(-load, e) for e, load in enumerate(loads)]
    heapq.heapify(heap)
    for _ in range(slots - len(loads)):
        _, e = heapq.heappop(heap)
        counts[e] += 1
        heapq.heappush(heap, (-loads[e] / counts[e], e))
    return counts


def rebalance_experts_per_layer(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                                num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The same policy as :func:`rebalance_experts`, one layer and one item at a time."""
    layers, experts = weight.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    w = weight.float().cpu().tolist()
    group_size = experts // num_groups
    slots_per_node = num_replicas // num_nodes
    gpus_per_node = num_gpus // num_nodes
    slots_per_gpu = num_replicas // num_gpus
    plan = []
    for row in w:
        group_load = [sum(row[g * group_size:(g + 1) * group_size]) for g in range(num_groups)]
        node_of_group = _lpt_one(group_load, num_nodes)
        slots: list[int] = []
        for node in range(num_nodes):
            members = [e for g in range(num_groups) if node_of_group[g] == node
                       for e in range(g * group_size, (g + 1) * group_size)]
            counts = _greedy_counts_one([row[e] for e in members], slots_per_node)
            replicas = [e for e, c in zip(members, counts) for _ in range(c)]
            replica_load = [row[e] / c for e, c in zip(members, counts) for _ in range(c)]
            gpu_of = _lpt_one(replica_load, gpus_per_node)
            for gpu in range(gpus_per_node):
                on_gpu = [replicas[i] for i in range(len(replicas)) if gpu_of[i] == gpu]
                assert len(on_gpu) == slots_per_gpu
                slots.extend(on_gpu)
        plan.append(slots)
    return finish_plan(torch.tensor(plan, dtype=torch.int64), experts)
