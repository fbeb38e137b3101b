# Evolved eplb solver (BEAM run eplb-readme, program 1).
# Standalone: depends only on torch/numpy and the standard library.
# Validation fitness 0.7166; test fitness 0.7159.
# README.md beside this file says how it was produced and scored.
"""Drift-hedging plan: plan on a transformed load, then pack replicas knowing which expert they copy.

The plan is scored on the next window, not on the one observed, so func_1 first
turns the observed load into a planning load (for example shrinking each layer
towards its mean by SMOOTHING and lifting cold experts to FLOOR times the layer
mean) that is less tied to this window's noise. The stages are then written out
explicitly: expert groups go to nodes by LPT over planning group loads, each
node's slots are shared by min-max greedy replication, and func_2 packs every
node's replicas onto its GPUs while also seeing each replica's expert, so it can
keep replicas of one expert on different GPUs (if that expert heats up, the
extra load is split over several GPUs). Shapes where groups do not split over
nodes are planned flat (one group, one node).
"""
from __future__ import annotations
import time

import torch
from typing import Callable

#Hyperparameter#
MAX_TIME = 0.05
SMOOTHING = 0.1
FLOOR = 0.05
PACK_SHARE = 0.8
#Hyperparameter#


# inlined from heubase.eplb.hierarchical
def check_cluster(num_experts: int, num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int) -> None:
    """Raise ``ValueError`` unless the cluster shape splits evenly as the serving systems require."""
    problems = []
    if num_groups <= 0 or num_experts % num_groups:
        problems.append(f"{num_experts} experts do not split into {num_groups} groups")
    if num_nodes <= 0 or num_gpus % num_nodes:
        problems.append(f"{num_gpus} GPUs do not split over {num_nodes} nodes")
    if num_gpus <= 0 or num_replicas % num_gpus:
        problems.append(f"{num_replicas} slots do not split over {num_gpus} GPUs")
    if num_replicas < num_experts:
        problems.append(f"{num_replicas} slots cannot hold {num_experts} experts")
    if problems:
        raise ValueError("; ".join(problems))


# inlined from heubase.eplb.plan
def replica_counts(phy2log: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Number of slots holding each expert: ``[L, R]`` expert ids → ``[L, E]`` int64 counts."""
    counts = torch.zeros(phy2log.shape[0], num_experts, dtype=torch.int64)
    counts.scatter_add_(1, phy2log.long(), torch.ones_like(phy2log, dtype=torch.int64))
    return counts


# inlined from heubase.eplb.plan
def build_log2phy(phy2log: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert ``phy2log``: returns ``(log2phy [L, E, X], logcnt [L, E])``.

    ``log2phy[l, e]`` lists the slots of expert ``e`` in increasing slot order,
    padded with -1 up to ``X = max(logcnt)``.

    >>> log2phy, cnt = build_log2phy(torch.tensor([[1, 0, 1]]), 2)
    >>> log2phy.tolist(), cnt.tolist()
    ([[[1, -1], [0, 2]]], [[1, 2]])
    """
    phy2log = phy2log.long()
    layers, slots = phy2log.shape
    logcnt = replica_counts(phy2log, num_experts)
    width = max(1, int(logcnt.max().item())) if logcnt.numel() else 1
    slot_ids = torch.arange(slots).expand(layers, slots)
    order = torch.argsort(phy2log * slots + slot_ids, dim=1)
    sorted_expert = phy2log.gather(1, order)
    first = logcnt.cumsum(1) - logcnt
    rank = slot_ids - first.gather(1, sorted_expert)
    log2phy = torch.full((layers, num_experts * width), -1, dtype=torch.int64)
    log2phy.scatter_(1, sorted_expert * width + rank, order)
    return log2phy.view(layers, num_experts, width), logcnt


# inlined from heubase.eplb.hierarchical
def finish_plan(phy2log: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Complete a ``phy2log`` into the DeepSeek triple ``(phy2log, log2phy, logcnt)``."""
    log2phy, logcnt = build_log2phy(phy2log, num_experts)
    return phy2log.long(), log2phy, logcnt


# inlined from heubase.eplb.hierarchical
Packer = Callable[[torch.Tensor, int], torch.Tensor]


# inlined from heubase.eplb.pack
def _capacity(weights: torch.Tensor, num_packs: int) -> int:
    if weights.dim() != 2:
        raise ValueError(f"weights must be [batch, items], got shape {tuple(weights.shape)}")
    items = weights.shape[1]
    if num_packs <= 0 or items % num_packs:
        raise ValueError(f"{items} items cannot fill {num_packs} packs equally")
    return items // num_packs


# inlined from heubase.eplb.pack
def pack_lpt(weights: torch.Tensor, num_packs: int) -> torch.Tensor:
    """Cardinality-constrained LPT: heaviest item first, onto the lightest pack that still has room.

    Vectorised over rows, one step per item; ties go to the lowest pack index.
    With one item per pack the identity packing is returned.

    >>> pack_lpt(torch.tensor([[5.0, 4.0, 3.0, 2.0]]), 2).tolist()
    [[0, 1, 1, 0]]
    """
    capacity = _capacity(weights, num_packs)
    batch, items = weights.shape
    if capacity == 1:
        return torch.arange(items).expand(batch, items).clone()
    w = weights.double()
    order = torch.sort(w, dim=1, descending=True, stable=True).indices
    load = torch.zeros(batch, num_packs, dtype=torch.float64)
    room = torch.full((batch, num_packs), capacity, dtype=torch.int64)
    pack = torch.empty(batch, items, dtype=torch.int64)
    rows = torch.arange(batch)
    full = torch.tensor(float("inf"), dtype=torch.float64)
    for step in range(items):
        item = order[:, step]
        target = torch.where(room > 0, load, full).argmin(dim=1)
        pack[rows, item] = target
        load[rows, target] += w[rows, item]
        room[rows, target] -= 1
    return pack


# inlined from heubase.eplb.hierarchical
def groups_to_nodes(weight: torch.Tensor, num_groups: int, num_nodes: int,
                    pack: Packer = pack_lpt) -> torch.Tensor:
    """``[L, num_groups]`` node of each expert group, balancing the groups' total load."""
    layers, experts = weight.shape
    group_load = weight.double().view(layers, num_groups, experts // num_groups).sum(-1)
    return pack(group_load, num_nodes)


# inlined from heubase.eplb.hierarchical
def is_hierarchical(num_groups: int, num_nodes: int) -> bool:
    """DeepSeek's rule: group-to-node placement applies when groups divide evenly over nodes."""
    return num_groups % num_nodes == 0


# inlined from heubase.eplb.plan
def assemble_slots(item_value: torch.Tensor, pack_of_item: torch.Tensor) -> torch.Tensor:
    """Lay items out in slot order: pack 0's items first, then pack 1's, …

    Within a pack, items keep their original relative order. With equal-size
    packs the result is a ``[B, n]`` slot table whose slot ``r`` belongs to pack
    ``r // (n // m)``; ``item_value`` says what each slot holds (e.g. expert ids).
    """
    batch, items = pack_of_item.shape
    ids = torch.arange(items).expand(batch, items)
    order = torch.argsort(pack_of_item.long() * items + ids, dim=1)
    return item_value.gather(1, order)


# inlined from heubase.eplb.plan
def pack_sizes(pack_of_item: torch.Tensor, num_packs: int) -> torch.Tensor:
    """``[B, m]`` number of items in each pack."""
    sizes = torch.zeros(pack_of_item.shape[0], num_packs, dtype=torch.int64)
    return sizes.scatter_add_(1, pack_of_item.long(), torch.ones_like(pack_of_item, dtype=torch.int64))


# inlined from heubase.eplb.plan
def checked_packing(pack_of_item: object, item_load: torch.Tensor, num_packs: int, name: str = "packer") -> torch.Tensor:
    """Check a packing produced by ``name`` and return it as int64; ``ValueError`` naming ``name`` otherwise.

    A packing must be a tensor of the items' shape, with pack indices in
    ``[0, num_packs)`` and exactly ``n // num_packs`` items in every pack.
    """
    if not isinstance(pack_of_item, torch.Tensor) or pack_of_item.shape != item_load.shape:
        raise ValueError(f"{name} must return a tensor of shape {tuple(item_load.shape)}")
    packing = pack_of_item.long()
    if bool(((packing < 0) | (packing >= num_packs)).any()):
        raise ValueError(f"{name} returned a pack index outside [0, {num_packs})")
    if bool((pack_sizes(packing, num_packs) != item_load.shape[1] // num_packs).any()):
        raise ValueError(f"{name} must put exactly {item_load.shape[1] // num_packs} items in every pack")
    return packing


# inlined from heubase.eplb.replicate
def expand_replicas(logcnt: torch.Tensor) -> torch.Tensor:
    """List every replica: ``[L, E]`` counts → ``[L, R]`` expert id of each replica (grouped by expert).

    >>> expand_replicas(torch.tensor([[2, 1]])).tolist()
    [[0, 0, 1]]
    """
    layers, experts = logcnt.shape
    totals = logcnt.sum(1)
    if layers and bool((totals != totals[0]).any()):
        raise ValueError("every layer must have the same number of replicas")
    ids = torch.arange(experts).expand(layers, experts).reshape(-1)
    return torch.repeat_interleave(ids, logcnt.reshape(-1)).view(layers, -1)


# inlined from heubase.eplb.replicate
def replica_loads(weight: torch.Tensor, logcnt: torch.Tensor, expert_of_item: torch.Tensor) -> torch.Tensor:
    """Load carried by each replica (an expert's load split evenly over its replicas)."""
    return (weight.double() / logcnt.clamp(min=1).double()).gather(1, expert_of_item)


# inlined from heubase.eplb.replicate
def _check(weight: torch.Tensor, num_slots: int) -> int:
    if weight.dim() != 2:
        raise ValueError(f"weight must be [layers, experts], got shape {tuple(weight.shape)}")
    extra = num_slots - weight.shape[1]
    if extra < 0:
        raise ValueError(f"{num_slots} slots cannot hold {weight.shape[1]} experts")
    return extra


# inlined from heubase.eplb.replicate
def replicate_greedy(weight: torch.Tensor, num_slots: int) -> torch.Tensor:
    """Min–max greedy: give each spare slot to the expert with the highest load per replica.

    Vectorised over layers, one step per spare slot; ties go to the lowest expert id.
    Returns ``logcnt [L, E]`` int64 summing to ``num_slots`` in every layer.

    >>> replicate_greedy(torch.tensor([[6.0, 1.0, 2.0]]), 5).tolist()
    [[3, 1, 1]]
    """
    extra = _check(weight, num_slots)
    layers, experts = weight.shape
    load = weight.double()
    counts = torch.ones(layers, experts, dtype=torch.int64)
    rows = torch.arange(layers)
    for _ in range(extra):
        pick = (load / counts).argmax(dim=1)
        counts[rows, pick] += 1
    return counts


# inlined from heubase.eplb.hedge
def shrink_to_mean(weight: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Blend every layer's loads with the layer mean: ``(1 - s) * w + s * mean(w)``.

    ``smoothing`` is clamped to [0, 1]; 0 returns the loads unchanged.

    >>> shrink_to_mean(torch.tensor([[4.0, 0.0]]), 0.5).tolist()
    [[3.0, 1.0]]
    """
    s = min(max(float(smoothing), 0.0), 1.0)
    w = weight.double().clamp(min=0)
    return (1.0 - s) * w + s * w.mean(dim=1, keepdim=True)


# inlined from heubase.eplb.pack
def _identity(weights: torch.Tensor) -> torch.Tensor:
    batch, items = weights.shape
    return torch.arange(items).expand(batch, items).clone()


# inlined from heubase.eplb.pack
def pack_karmarkar_karp(weights: torch.Tensor, num_packs: int) -> torch.Tensor:
    """Balanced multi-way largest differencing method (Karmarkar–Karp) with equal pack sizes.

    Items are sorted descending and cut into ``n/m`` tuples of ``m`` consecutive
    items; each tuple is a partial solution with one item per subset. The two
    partial solutions with the largest spread (max − min subset sum) are merged
    repeatedly, pairing the heaviest subset of one with the lightest of the other,
    until one remains; its subsets are the packs, each with exactly ``n/m`` items.
    Vectorised over rows (``n/m − 1`` merge steps); ties go to the lowest index.

    >>> pack_karmarkar_karp(torch.tensor([[8.0, 7.0, 6.0, 5.0]]), 2).tolist()
    [[0, 1, 1, 0]]
    """
    capacity = _capacity(weights, num_packs)
    batch, items = weights.shape
    if capacity == 1:
        return _identity(weights)
    m = num_packs
    w_sorted, order = torch.sort(weights.double(), dim=1, descending=True, stable=True)
    # Subset sums of every partial solution, kept sorted descending: [B, k, m].
    sums = w_sorted.view(batch, capacity, m).clone()
    rank = torch.arange(items)
    part = (rank // m).expand(batch, items).clone()   # partial solution of each sorted item
    slot = (rank % m).expand(batch, items).clone()    # its subset (sorted position) there
    alive = torch.ones(batch, capacity, dtype=torch.bool)
    rows = torch.arange(batch)
    ninf = torch.tensor(float("-inf"), dtype=torch.float64)
    for _ in range(capacity - 1):
        spread = torch.where(alive, sums[:, :, 0] - sums[:, :, m - 1], ninf)
        a = spread.argmax(dim=1)
        spread[rows, a] = ninf
        b = spread.argmax(dim=1)
        merged = sums[rows, a] + sums[rows, b].flip(-1)
        new_order = torch.sort(merged, dim=1, descending=True, stable=True).indices
        new_rank = torch.argsort(new_order, dim=1)
        sums[rows, a] = merged.gather(1, new_order)
        alive[rows, b] = False
        in_b = part == b.unsqueeze(1)
        slot = torch.where(in_b, m - 1 - slot, slot)
        part = torch.where(in_b, a.unsqueeze(1), part)
        slot = torch.where(part == a.unsqueeze(1), new_rank.gather(1, slot), slot)
    pack = torch.empty(batch, items, dtype=torch.int64)
    pack.scatter_(1, order, slot)
    return pack


def func_1(weight: torch.Tensor, smoothing: float, floor: float) -> torch.Tensor:
    return shrink_to_mean(weight, smoothing=smoothing)


def func_2(item_load: torch.Tensor, item_expert: torch.Tensor, num_packs: int, deadline: float) -> torch.Tensor:
    return pack_karmarkar_karp(item_load, num_packs)


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    start = time.perf_counter()
    weight = weight.float().cpu()
    layers, experts = weight.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    deadline = start + MAX_TIME * PACK_SHARE

    plan_load = func_1(weight.clone(), SMOOTHING, FLOOR)
    if not isinstance(plan_load, torch.Tensor) or plan_load.shape != weight.shape:
        raise ValueError(f"func_1 must return planning loads of shape {tuple(weight.shape)}")
    plan_load = plan_load.double()
    if not bool(torch.isfinite(plan_load).all()) or bool((plan_load < 0).any()):
        raise ValueError("func_1 must return finite, non-negative planning loads")

    group_size = experts // num_groups
    node_of_group = groups_to_nodes(plan_load, num_groups, num_nodes)
    groups_by_node = assemble_slots(torch.arange(num_groups).expand(layers, num_groups), node_of_group)
    node_experts = (groups_by_node.unsqueeze(-1) * group_size + torch.arange(group_size)).reshape(
        layers * num_nodes, experts // num_nodes)
    node_load = plan_load.gather(1, node_experts.view(layers, experts)).view(layers * num_nodes, -1)

    counts = replicate_greedy(node_load, num_replicas // num_nodes)
    local_expert = expand_replicas(counts)
    item_load = replica_loads(node_load, counts, local_expert)
    gpus_per_node = num_gpus // num_nodes
    gpu_of_item = func_2(item_load, local_expert.clone(), gpus_per_node, deadline)
    gpu_of_item = checked_packing(gpu_of_item, item_load, gpus_per_node, "func_2")

    local_slots = assemble_slots(local_expert, gpu_of_item)
    phy2log = node_experts.gather(1, local_slots).view(layers, num_replicas)
    return finish_plan(phy2log, experts)
