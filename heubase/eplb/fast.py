"""A fast EPLB pipeline: few sorts, loops only over short, fixed ranges.

Torch's sorts cost a few nanoseconds per comparison and every call has a fixed
overhead, so the pipeline here sorts each layer's experts once and otherwise
uses element-wise work:

* :func:`replicate_fast` — min–max greedy replication from a load threshold
  plus a correction by ``topk``; no loop over spare slots.
* :func:`pack_rounds` — cardinality-constrained LPT dealt in rounds: one loop
  step per item *per pack*, not per item.
* :func:`swap_rounds` — a few max–min swaps between the heaviest and the
  lightest pack of every row, on a ``[B, m, c]`` table.
* :func:`rebalance_fast` — the DeepSeek triple ``(phy2log, log2phy, logcnt)``
  from the pieces above, hierarchical when ``num_groups % num_nodes == 0``.
"""
from __future__ import annotations

from typing import Callable

import torch

from heubase.eplb.hierarchical import check_cluster, is_hierarchical

Packer = Callable[[torch.Tensor, int], torch.Tensor]


def _deal(sorted_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Deal ``[B, c, m]`` items (sorted descending, round by round) onto ``m`` packs.

    Round ``k`` puts its ``j``-th heaviest item on the ``j``-th lightest pack
    (ties to the lower pack index). Returns ``(pack of each item [B, c, m], pack loads [B, m])``.
    """
    batch, rounds, m = sorted_w.shape
    packs = torch.empty(batch, rounds, m, dtype=torch.int64)
    packs[:, 0] = torch.arange(m)
    load = sorted_w[:, 0].clone()
    for k in range(1, rounds):
        lightest_first = torch.argsort(load, dim=1, stable=True)
        packs[:, k] = lightest_first
        load.scatter_add_(1, lightest_first, sorted_w[:, k])
    return packs, load


def _capacity(weights: torch.Tensor, num_packs: int) -> int:
    if weights.dim() != 2:
        raise ValueError(f"weights must be [batch, items], got shape {tuple(weights.shape)}")
    if num_packs <= 0 or weights.shape[1] % num_packs:
        raise ValueError(f"{weights.shape[1]} items cannot fill {num_packs} packs equally")
    return weights.shape[1] // num_packs


def pack_rounds(weights: torch.Tensor, num_packs: int) -> torch.Tensor:
    """Cardinality-constrained LPT by rounds: every pack gets one item per round.

    Items are sorted descending once; round ``k`` takes the next ``m`` items and
    gives the heaviest to the currently lightest pack, the next to the second
    lightest, and so on (ties to the lower pack index). Exactly ``n / m`` items
    per pack; ``n / m`` loop steps, each vectorised over rows and packs. With
    one item per pack the identity packing is returned, as by the other packers.

    >>> pack_rounds(torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0, 1.0]]), 2).tolist()
    [[0, 1, 1, 0, 0, 1]]
    """
    capacity = _capacity(weights, num_packs)
    batch, items = weights.shape
    if capacity == 1 or batch == 0:
        return torch.arange(items).expand(batch, items).clone()
    ordered, order = torch.sort(weights.double(), dim=1, descending=True, stable=True)
    packs, _ = _deal(ordered.view(batch, capacity, num_packs))
    return torch.empty_like(order).scatter_(1, order, packs.view(batch, items))


def replicate_fast(weight: torch.Tensor, num_slots: int, threshold_steps: int = 3) -> torch.Tensor:
    """Min–max greedy replication (as ``replicate_greedy``) without a loop over spare slots.

    The greedy gives the ``R − E`` spare slots to the largest quotients
    ``w_e / k``; with a threshold ``t`` the quotients above it give counts
    ``max(1, ceil(w_e / t))``. ``t`` is estimated by a fixed point
    (``threshold_steps`` steps); the few slots it gets wrong are then added
    (or removed) with ``topk`` on the next (or last) quotient of every expert,
    taking in one pass all of them that precede every second-next quotient.
    Same counts as the greedy up to ties, so the same maximum load per replica.
    Returns ``logcnt [L, E]`` int64.

    >>> replicate_fast(torch.tensor([[6.0, 1.0, 2.0]]), 5).tolist()
    [[3, 1, 1]]
    """
    if weight.dim() != 2:
        raise ValueError(f"weight must be [layers, experts], got shape {tuple(weight.shape)}")
    layers, experts = weight.shape
    extra = num_slots - experts
    if extra < 0:
        raise ValueError(f"{num_slots} slots cannot hold {experts} experts")
    counts = torch.ones(layers, experts, dtype=torch.int64)
    if extra == 0 or layers == 0:
        return counts
    w = weight.double().clamp(min=0)
    t = w.sum(1, keepdim=True) / num_slots          # a lower bound of the true threshold
    for _ in range(threshold_steps):
        hot = w > t
        t = (w * hot).sum(1, keepdim=True) / (extra + 0.5 * hot.sum(1, keepdim=True))
    t = torch.where(t > 0, t, torch.inf)            # all-zero rows: start from one replica each
    counts = torch.ceil(w / t).clamp_(min=1).long()
    miss = num_slots - counts.sum(1)                 # > 0: slots to add, < 0: slots to take back
    ninf = torch.tensor(-torch.inf, dtype=torch.float64)
    while True:
        most = int(miss.abs().max())
        if most == 0:
            return counts
        c = counts.double()
        nxt = w / c                                                # next quotient (added next)
        add_ok = nxt >= (w / (c + 1)).amax(1, keepdim=True)       # before every second-next one
        last = torch.where(counts > 1, w / (c - 1), torch.inf)     # last chosen quotient
        before = torch.where(counts > 2, w / (c - 2), torch.inf).amin(1, keepdim=True)
        drop_ok = last <= before
        adding = (miss > 0).unsqueeze(1)
        key = torch.where(adding, torch.where(add_ok, nxt, ninf), torch.where(drop_ok, -last, ninf))
        value, pick = key.topk(min(most, experts), dim=1)
        take = (torch.arange(value.shape[1]) < miss.abs().unsqueeze(1)) & (value > ninf)
        step = torch.where(adding, 1, -1) * take
        counts.scatter_add_(1, pick, step)
        miss -= step.sum(1)


def swap_rounds(table_w: torch.Tensor, table: torch.Tensor, rounds: int,
                labels: torch.Tensor | None = None) -> None:
    """Max–min 1-for-1 swaps on pack tables ``[B, m, c]`` (weights, item ids), in place.

    Each round, per row, the swap between the heaviest and the lightest pack
    that brings their loads closest together is applied when it strictly
    lowers the heavier of the two (a row with none makes a no-op swap).

    >>> w = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]]); ids = torch.tensor([[[0, 1], [2, 3]]])
    >>> swap_rounds(w, ids, 1); ids.tolist()
    [[[2, 1], [0, 3]]]
    """
    batch, m, c = table_w.shape
    if m < 2 or batch == 0:
        return
    rows = torch.arange(batch)
    flat_w, flat_id = table_w.view(batch, m * c), table.view(batch, m * c)
    tol = flat_w.abs().amax(1) * (4 * m * m * c * c * torch.finfo(torch.float64).eps)
    for _ in range(rounds):
        load = table_w.sum(2)
        hi_load, hi = load.max(1)
        lo_load, lo = load.min(1)
        half = (hi_load - lo_load) * 0.5
        diff = table_w[rows, hi].unsqueeze(2) - table_w[rows, lo].unsqueeze(1)   # [B, c, c]
        score = (diff - half.view(batch, 1, 1)).abs_()
        if labels is not None:
            lab_hi, lab_lo = labels[rows, hi], labels[rows, lo]
            same = lab_hi.unsqueeze(2) == lab_lo.unsqueeze(1)                    # [B, c, c]
            clash = same.any(2, keepdim=True) | same.any(1, keepdim=True)
            score = score.masked_fill_(clash, torch.inf)
        best, flat = score.view(batch, c * c).min(1)
        ok = (half - best) > tol
        here = hi * c + torch.div(flat, c, rounding_mode="floor")
        there = torch.where(ok, lo * c + flat % c, here)
        pos = torch.stack((here, there), 1)
        src = torch.stack((there, here), 1)
        flat_w.scatter_(1, pos, flat_w.gather(1, src))
        flat_id.scatter_(1, pos, flat_id.gather(1, src))
        if labels is not None:
            flat_lab = labels.view(batch, m * c)
            flat_lab.scatter_(1, pos, flat_lab.gather(1, src))


def rebalance_fast(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                   num_gpus: int, *, pack: Packer = pack_rounds,
                   refine_rounds: int = 0, anti_affinity: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EPLB plan ``(phy2log [L, R], log2phy [L, E, X], logcnt [L, E])``, int64, with few sorts.

    DeepSeek's policy with faster parts: when ``num_groups % num_nodes == 0``
    whole expert groups go to nodes (by :func:`pack_rounds` on group loads),
    otherwise the layer is one group on one node. Inside each node
    :func:`replicate_fast` shares the slots, experts are sorted once by load
    per replica, and ``pack`` (default :func:`pack_rounds`, fused with that
    sort) puts replicas on the node's GPUs; ``refine_rounds`` max–min swaps
    follow. ``log2phy`` lists every expert's slots, not necessarily in slot order.

    >>> p, l2p, cnt = rebalance_fast(torch.tensor([[8.0, 1.0, 2.0, 1.0]]), 6, 2, 2, 2)
    >>> p.tolist(), cnt.tolist()
    ([[0, 0, 1, 2, 2, 3]], [[2, 1, 2, 1]])
    """
    w = weight.detach().cpu().double()
    layers, experts = w.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    nodes = num_nodes
    rows = layers * nodes
    node_experts, node_slots = experts // nodes, num_replicas // nodes
    gpus = num_gpus // nodes
    per_gpu = node_slots // gpus

    # 1. groups -> nodes: [rows, node_experts] global expert ids, node by node
    if nodes > 1:
        size = experts // num_groups
        group_load = w.view(layers, num_groups, size).sum(-1)
        per_node = num_groups // nodes
        if per_node == 1:
            by_node = torch.arange(num_groups).expand(layers, num_groups)
        else:
            ordered, order = torch.sort(group_load, dim=1, descending=True, stable=True)
            packs, _ = _deal(ordered.view(layers, per_node, nodes))
            place = packs * per_node + torch.arange(per_node).view(1, per_node, 1)
            by_node = torch.empty_like(order).scatter_(1, place.view(layers, num_groups), order)
        members = (by_node.unsqueeze(-1) * size + torch.arange(size)).view(rows, node_experts)
        node_w = w.gather(1, members.view(layers, experts)).view(rows, node_experts)
    else:
        members = None
        node_w = w

    # 2. replication, then experts by load per replica (descending)
    counts = replicate_fast(node_w, node_slots)
    ordered, order = torch.sort(node_w / counts, dim=1, descending=True, stable=True)
    global_ids = order if members is None else members.gather(1, order)
    sorted_counts = counts.gather(1, order).view(-1)
    total = rows * node_slots
    src = torch.repeat_interleave(torch.arange(rows * node_experts), sorted_counts, output_size=total)
    item_load = ordered.view(-1)[src].view(rows, node_slots)
    item_expert = global_ids.view(-1)[src]
    item_rank = torch.arange(total) - (sorted_counts.cumsum(0) - sorted_counts)[src]

    # 3. replicas -> GPUs: table[b, g, s] = item (index into the node's sorted items) on slot s of GPU g
    if pack is pack_rounds:
        packs, _ = _deal(item_load.view(rows, per_gpu, gpus))
        slot = (packs * per_gpu + torch.arange(per_gpu).view(1, per_gpu, 1)).view(rows, node_slots)
    else:
        gpu_of = pack(item_load, gpus).long()
        ids = torch.arange(node_slots).expand(rows, node_slots)
        by_gpu = torch.argsort(gpu_of * node_slots + ids, dim=1)
        slot = torch.empty_like(by_gpu).scatter_(1, by_gpu, ids)
    if refine_rounds > 0 and gpus > 1:
        table = torch.empty_like(slot).scatter_(1, slot, torch.arange(node_slots).expand(rows, node_slots))
        table_w = item_load.gather(1, table)
        labels = item_expert.view(rows, node_slots).gather(1, table) if anti_affinity else None
        swap_rounds(table_w.view(rows, gpus, per_gpu), table.view(rows, gpus, per_gpu), refine_rounds,
                    None if labels is None else labels.view(rows, gpus, per_gpu))
        slot = torch.empty_like(table).scatter_(1, table, torch.arange(node_slots).expand(rows, node_slots))

    # 4. the DeepSeek triple
    phy2log = torch.empty(rows, node_slots, dtype=torch.int64)
    phy2log.scatter_(1, slot, item_expert.view(rows, node_slots))
    if members is None:
        logcnt = counts
    else:
        logcnt = torch.empty(layers, experts, dtype=torch.int64).scatter_(
            1, members.view(layers, experts), counts.view(layers, experts))
    width = int(counts.max())
    row_of_item = torch.arange(total) // node_slots
    layer_of_item = torch.div(row_of_item, nodes, rounding_mode="floor")
    phys = (row_of_item - layer_of_item * nodes) * node_slots + slot.view(-1)
    log2phy = torch.full((layers * experts * width,), -1, dtype=torch.int64)
    log2phy.scatter_(0, (layer_of_item * experts + item_expert) * width + item_rank, phys)
    return phy2log.view(layers, num_replicas), log2phy.view(layers, experts, width), logcnt
