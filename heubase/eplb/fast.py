"""A fast EPLB pipeline: one sort of each node's experts, loops only over short ranges.

On a CPU with one torch thread the reference loses its time to per-item loops
(LPT, greedy replication) and to sorts: torch's sort mispredicts branches on
fresh data, and every op has a dispatch cost of microseconds. So here:

* :func:`replicate_fast` — the min–max greedy's counts: the greedy loop when
  few spare slots, otherwise a load threshold plus one ``topk`` correction.
* :func:`pack_rounds` — cardinality-constrained LPT dealt in rounds: one loop
  step (an ``argsort`` of ``m`` pack loads) per round of ``m`` items.
* :func:`pack_spread` — rounds, then the tail dealt in strided rounds, so the
  heaviest pack can end with the lightest items as under LPT; near LPT's quality.
* :func:`swap_rounds` — max–min swaps inside each row (node) that never stack
  near-equal items, which drift together, on one pack.
* :func:`rebalance_fast` — the DeepSeek triple ``(phy2log, log2phy, logcnt)``
  from the pieces above, hierarchical when ``num_groups % num_nodes == 0``.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from heubase.eplb.hierarchical import check_cluster, is_hierarchical
from heubase.eplb.plan import checked_counts, checked_packing

Packer = Callable[[torch.Tensor, int], torch.Tensor]
Replicator = Callable[[torch.Tensor, int], torch.Tensor]


def _capacity(weights: torch.Tensor, num_packs: int) -> int:
    if weights.dim() != 2:
        raise ValueError(f"weights must be [batch, items], got shape {tuple(weights.shape)}")
    if num_packs <= 0 or weights.shape[1] % num_packs:
        raise ValueError(f"{weights.shape[1]} items cannot fill {num_packs} packs equally")
    return weights.shape[1] // num_packs


def _deal(dealt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Deal rounds ``[B, c, m]`` (each round sorted descending) onto ``m`` packs.

    Round 0 puts item ``j`` on pack ``j``; every later round puts its ``j``-th
    heaviest item on the ``j``-th lightest pack. Returns ``(pack of every item
    [B, c, m], pack loads [B, m])``.
    """
    batch, rounds, m = dealt.shape
    first, *rest = dealt.unbind(1)
    load = first.clone()
    packs = [torch.arange(m).expand(batch, m)]
    for items in rest:
        lightest_first = torch.argsort(load, dim=1)
        packs.append(lightest_first)
        load.scatter_add_(1, lightest_first, items)
    return torch.stack(packs, 1), load


def auto_switches(ordered: torch.Tensor, num_packs: int, spread: int = 0) -> torch.Tensor:
    """``[B, V]`` switch points for :func:`pack_spread`, per row: the rounds holding the items above the mean.

    Plain rounds suit the heavy items at the head, the strided tail suits the
    light rest; the switch ``h = ceil(#items above the row's mean item / m)``,
    clamped to ``[1, c]``, was the best single switch on most rows of the
    problem's traffic. ``spread`` adds ``h - spread … h + spread`` to try
    (``spread=1`` helps where experts are not replicated, ``R = E``).

    >>> auto_switches(torch.tensor([[9.0, 8.0, 7.0, 1.0, 1.0, 1.0, 1.0, 1.0]]), 2, spread=1).tolist()
    [[1, 2, 3]]
    """
    batch, items = ordered.shape
    capacity = items // num_packs
    above = (ordered > ordered.mean(1, keepdim=True)).sum(1, keepdim=True)
    centre = torch.div(above + (num_packs - 1), num_packs, rounding_mode="floor")
    return (centre + torch.arange(-spread, spread + 1)).clamp_(1, capacity)


_SCHEDULES: dict[tuple[int, int], torch.Tensor] = {}


def deal_schedules(capacity: int, num_packs: int) -> torch.Tensor:
    """``[c, n]`` dealing orders, one per switch ``h = 1 … c``: ranks of the sorted items, round by round.

    Switch ``h`` keeps ``h`` rounds of consecutive items; each of the other
    ``c − h`` rounds takes every ``(c − h)``-th remaining item, so it spans the
    whole tail and the heaviest pack can end with the lightest items overall.
    ``h = c`` is plain rounds. Computed once per ``(c, m)``; callers must not modify it.
    """
    key = (capacity, num_packs)
    if key not in _SCHEDULES:
        h = torch.arange(1, capacity + 1).view(-1, 1, 1)
        k = torch.arange(capacity).view(1, -1, 1)
        j = torch.arange(num_packs).view(1, 1, -1)
        tail = h * num_packs + j * (capacity - h) + (k - h)
        _SCHEDULES[key] = torch.where(k < h, k * num_packs + j, tail).view(capacity, capacity * num_packs)
    return _SCHEDULES[key]


def _deal_table(ordered: torch.Tensor, num_packs: int, switches: Optional[Sequence[int]] = None,
                spread: int = 0) -> torch.Tensor:
    """``[B, n]`` table of a packing of ``ordered [B, n]`` (sorted descending): entry ``p * c + k``
    is the item (index into ``ordered``) dealt to pack ``p`` in round ``k``.

    Every switch (the same ``switches`` for all rows, or :func:`auto_switches`
    per row when None) is dealt at once, as extra rows, and each row keeps the
    one with the lightest heaviest pack (the first on ties).
    """
    batch, items = ordered.shape
    capacity = items // num_packs
    if switches is None:
        hs = auto_switches(ordered, num_packs, spread)
    else:
        hs = torch.tensor(sorted({min(max(int(h), 1), capacity) for h in switches}) or [capacity])
        hs = hs.expand(batch, -1)
    count = hs.shape[1]
    plan = deal_schedules(capacity, num_packs).index_select(0, hs.reshape(-1) - 1)          # [B * V, n]
    source = ordered if count == 1 else ordered.unsqueeze(1).expand(batch, count, items).reshape(-1, items)
    packs, load = _deal(source.gather(1, plan).view(batch * count, capacity, num_packs))
    if count > 1:
        pick = load.view(batch, count, num_packs).amax(2).argmin(1) + torch.arange(0, batch * count, count)
        plan, packs = plan.index_select(0, pick), packs.view(batch * count, items).index_select(0, pick)
    slot = packs.view(batch, capacity, num_packs) * capacity + torch.arange(capacity).view(capacity, 1)
    return torch.empty(batch, items, dtype=torch.int64).scatter_(1, slot.view(batch, items), plan)


def pack_rounds(weights: torch.Tensor, num_packs: int) -> torch.Tensor:
    """Cardinality-constrained LPT by rounds: every pack gets one item per round.

    Items are sorted descending once; round ``k`` takes the next ``m`` items and
    gives the heaviest to the currently lightest pack, the next to the second
    lightest, and so on. Exactly ``n / m`` items per pack; ``n / m`` loop steps,
    each vectorised over rows and packs. Deterministic (ties between pack loads
    are broken by torch's sort). With one item per pack the identity packing
    is returned, as by the other packers.

    >>> w = torch.tensor([[10.0, 6.0, 2.0, 2.0, 1.0, 1.0]])
    >>> pack_rounds(w, 2).tolist()   # loads 13 and 9
    [[0, 1, 1, 0, 1, 0]]
    """
    return pack_spread(weights, num_packs, switches=(_capacity(weights, num_packs),))


def pack_spread(weights: torch.Tensor, num_packs: int, switches: Optional[Sequence[int]] = None,
                spread: int = 0) -> torch.Tensor:
    """:func:`pack_rounds`, then the tail dealt in strided rounds (per row the best of the given switch points).

    Plain rounds give the heaviest pack the lightest item *of each round*;
    LPT gives it the lightest items overall. Here, after ``h`` plain rounds,
    each remaining round takes every ``(c − h)``-th remaining item, so that
    pack can collect the very last ones. Every ``h`` in ``switches`` is dealt,
    all vectorised together, and each row keeps the packing with the lightest
    heaviest pack; by default each row deals the switches of
    :func:`auto_switches` (with ``spread``); ``switches=()`` is plain rounds.

    >>> w = torch.tensor([[10.0, 6.0, 2.0, 2.0, 1.0, 1.0]])
    >>> pack_spread(w, 2, switches=(1,)).tolist()   # loads 12 and 10, as LPT
    [[0, 1, 1, 1, 0, 0]]
    """
    capacity = _capacity(weights, num_packs)
    batch, items = weights.shape
    if capacity == 1 or batch == 0:
        return torch.arange(items).expand(batch, items).clone()
    ordered, order = torch.sort(weights.double(), dim=1, descending=True, stable=True)
    table = order.gather(1, _deal_table(ordered, num_packs, switches, spread))
    pack_of_slot = torch.arange(items).div_(capacity, rounding_mode="floor").expand(batch, items)
    return torch.empty_like(order).scatter_(1, table, pack_of_slot)


def replicate_fast(weight: torch.Tensor, num_slots: int, loop_limit: int = 16, levels: int = 3) -> torch.Tensor:
    """Min–max greedy replication (as ``replicate_greedy``): same counts up to ties.

    Up to ``loop_limit`` spare slots per row the greedy itself is run (one
    ``argmax`` step per spare slot, ties to the lowest expert id). Beyond, no
    loop over spare slots: the quotients ``w_e / k`` above a threshold ``t``
    give counts ``max(1, ceil(w_e / t))``; one fixed-point step gives a ``t``
    that provably leaves some spare slots unassigned (never too many), and one
    ``topk`` over the next ``levels`` quotients of every expert hands them to
    the largest quotients that precede every quotient left out (repeated only
    if that was not enough). Either way the maximum load per replica is the
    greedy's. Returns ``[L, E]`` int64.

    >>> w = torch.tensor([[6.0, 1.0, 2.0, 0.0]])
    >>> replicate_fast(w, 6).tolist(), replicate_fast(w, 6, loop_limit=0).tolist()
    ([[3, 1, 1, 1]], [[3, 1, 1, 1]])
    """
    if weight.dim() != 2:
        raise ValueError(f"weight must be [layers, experts], got shape {tuple(weight.shape)}")
    layers, experts = weight.shape
    extra = num_slots - experts
    if extra < 0:
        raise ValueError(f"{num_slots} slots cannot hold {experts} experts")
    if extra == 0 or layers == 0:
        return torch.ones(layers, experts, dtype=torch.int64)
    w = weight.double().nan_to_num(0.0, posinf=1e300, neginf=0.0).clamp_(min=0)
    counts = torch.ones(layers, experts, dtype=torch.float64)
    if extra <= loop_limit:
        one = torch.ones(layers, 1, dtype=torch.float64)
        for _ in range(extra):
            counts.scatter_add_(1, (w / counts).max(1, keepdim=True).indices, one)
        return counts.long()
    peak = w.amax(1, keepdim=True)
    w = w / torch.where(peak > 0, peak, 1.0)  # per-row scale changes no count; tiny loads no longer underflow t
    t = w.sum(1, keepdim=True) / num_slots
    # the sum over w > t of (ceil(w / t') - 1) is below (that sum of w) / t' <= extra for this t' >= t
    t = torch.maximum(t, torch.where(w > t, w, 0.0).sum(1, keepdim=True) / extra).mul_(1 + 1e-9)
    counts = torch.ceil(w / t).nan_to_num_(1.0).clamp_(min=1.0)        # an all-zero row: one each
    miss = num_slots - counts.sum(1, keepdim=True)
    depth = torch.arange(levels, dtype=torch.float64)
    for _ in range(extra):                    # each pass hands out at least one slot in every row short of some
        most = int(miss.max())
        if most <= 0:
            return counts.long()
        quotient = w.unsqueeze(2) / (counts.unsqueeze(2) + depth)          # the next quotients
        beyond = (w / (counts + levels)).amax(1, keepdim=True)              # the best one left out
        value, pick = quotient.view(layers, experts * levels).topk(min(most, experts * levels), dim=1)
        take = (value >= beyond) & (torch.arange(value.shape[1]) < miss)
        counts.scatter_add_(1, torch.div(pick, levels, rounding_mode="floor"), take.double())
        miss = miss - take.sum(1, keepdim=True)
    return counts.long()


def _barred(mask: torch.Tensor) -> torch.Tensor:
    """``+inf`` where ``mask`` holds, else 0 (added to swap scores: cheaper than a broadcast ``masked_fill_``)."""
    return torch.zeros(mask.shape, dtype=torch.float64).masked_fill_(mask, torch.inf)


def swap_rounds(table_w: torch.Tensor, table: torch.Tensor, rounds: int = 1, near: Optional[float] = 0.03,
                pairs: int = 1) -> None:
    """Max–min 1-for-1 swaps on pack tables ``[B, m, c]`` (weights, item ids), in place.

    Each round, per row, the ``k``-th heaviest pack is paired with the ``k``-th
    lightest (``k < pairs``) and in every pair the swap that brings the two
    loads closest together is applied when it strictly lowers the heavier one.
    With ``near`` set, a swap may not move an item into a pack holding a *near
    twin* (weight within a relative ``near``): replicas of one expert, and
    experts that are hot together, drift together, and stacking them on one GPU
    costs more on the next window than the swap gains now.

    >>> w = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]]); ids = torch.tensor([[[0, 1], [2, 3]]])
    >>> swap_rounds(w, ids, 1); ids.tolist(), w.sum(2).tolist()
    ([[[2, 1], [0, 3]]], [[5.0, 5.0]])
    """
    batch, m, c = table_w.shape
    k = min(max(int(pairs), 1), m // 2)
    if m < 2 or c < 1 or batch == 0 or rounds <= 0:
        return
    flat_w, flat_id = table_w.view(batch, m * c), table.view(batch, m * c)
    within = torch.arange(c)
    slack = flat_w.abs().amax(1, keepdim=True) * (4 * (m * c) ** 2 * torch.finfo(torch.float64).eps)
    for _ in range(rounds):
        load = table_w.sum(2)
        if k == 1:
            hi_load, hi = load.max(1, keepdim=True)
            lo_load, lo = load.min(1, keepdim=True)
        else:
            by_load = torch.sort(load, dim=1)
            lo_load, lo = by_load.values[:, :k], by_load.indices[:, :k]
            hi_load, hi = by_load.values[:, -k:].flip(1), by_load.indices[:, -k:].flip(1)
        half = (hi_load - lo_load).mul_(0.5)                                   # [B, k]
        w_hi = flat_w.gather(1, (hi.unsqueeze(2) * c + within).view(batch, k * c)).view(batch, k, c, 1)
        w_lo = flat_w.gather(1, (lo.unsqueeze(2) * c + within).view(batch, k * c)).view(batch, k, 1, c)
        diff = w_hi - w_lo                                                    # [B, k, c, c]
        score = (diff - half.view(batch, k, 1, 1)).abs_()
        if near is not None:                  # a row / column with a near twin on the other side is barred
            twin = diff.abs_() <= w_hi * near
            score.add_(_barred(twin.any(3, keepdim=True))).add_(_barred(twin.any(2, keepdim=True)))
        best, flat = score.view(batch, k, c * c).min(2)
        here = hi * c + torch.div(flat, c, rounding_mode="floor")
        there = torch.where(best < half - slack, lo * c + flat % c, here)
        pos, src = torch.cat((here, there), 1), torch.cat((there, here), 1)
        flat_w.scatter_(1, pos, flat_w.gather(1, src))
        flat_id.scatter_(1, pos, flat_id.gather(1, src))


def rebalance_fast(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                   num_gpus: int, *, pack: Packer = pack_spread, switches: Optional[Sequence[int]] = None,
                   spread: int = 0, refine_rounds: int = 2, near: Optional[float] = 0.03,
                   pairs: int = 1, replicate: Optional[Replicator] = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EPLB plan ``(phy2log [L, R], log2phy [L, E, X], logcnt [L, E])``, int64, with few sorts.

    DeepSeek's policy with faster parts: when ``num_groups % num_nodes == 0``
    whole expert groups go to nodes (by :func:`pack_rounds` on group loads,
    which is LPT for two groups per node), otherwise the layer is one group on
    one node. Inside each node ``replicate`` (default :func:`replicate_fast`;
    any ``(loads [B, n], slots) -> counts [B, n]``, checked) shares the slots, the
    experts are sorted once by load per replica, and ``pack`` puts the replicas
    on the node's GPUs (:func:`pack_spread`, with ``switches`` and ``spread``,
    and :func:`pack_rounds` are fused with that sort; any other packer is called
    on the replica loads), followed by ``refine_rounds`` rounds of
    :func:`swap_rounds` (``near``, ``pairs``).
    Same validity as the reference; ``log2phy`` lists every expert's slots,
    but not necessarily in increasing slot order.

    >>> p, l2p, cnt = rebalance_fast(torch.tensor([[8.0, 1.0, 2.0, 1.0]]), 6, 2, 2, 2)
    >>> p.tolist(), cnt.tolist()
    ([[0, 0, 1, 2, 2, 3]], [[2, 1, 2, 1]])
    """
    w = weight.detach().to("cpu", torch.float64)
    layers, experts = w.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    nodes = num_nodes
    rows = layers * nodes
    node_experts, node_slots = experts // nodes, num_replicas // nodes
    gpus = num_gpus // nodes
    per_gpu = node_slots // gpus

    # 1. groups -> nodes; members[b] = global ids of node b's experts (row b = layer * nodes + node)
    members: Optional[torch.Tensor] = None
    node_w = w
    if nodes > 1:
        size = experts // num_groups
        per_node = num_groups // nodes
        order = torch.argsort(w.view(layers, num_groups, size).sum(2), dim=1, descending=True)
        if per_node == 1:
            by_node = order                                    # any one-to-one map keeps locality
        elif per_node == 2:                                    # rounds = LPT: pair rank r with 2N-1-r
            by_node = torch.stack((order[:, :nodes], order[:, nodes:].flip(1)), 2)
        else:
            packs, _ = _deal(w.view(layers, num_groups, size).sum(2).gather(1, order).view(layers, per_node, nodes))
            place = packs * per_node + torch.arange(per_node).view(1, per_node, 1)
            by_node = torch.empty_like(order).scatter_(1, place.view(layers, num_groups), order)
        members = (by_node.reshape(layers, num_groups, 1) * size + torch.arange(size)).view(rows, node_experts)
        node_w = w.gather(1, members.view(layers, experts)).view(rows, node_experts)

    # 2. replication; replicas listed by load per replica, descending
    if replicate is None:
        counts = replicate_fast(node_w, node_slots)
    else:
        counts = checked_counts(replicate(node_w, node_slots), node_w, node_slots,
                                getattr(replicate, "__name__", "replicate"))
    ordered, order = torch.sort(node_w / counts, dim=1, descending=True)
    sorted_counts = counts.gather(1, order).view(-1)
    total = rows * node_slots
    src = torch.repeat_interleave(torch.arange(rows * node_experts), sorted_counts, output_size=total)
    item_load = ordered.view(-1).index_select(0, src).view(rows, node_slots)
    expert_of = order if members is None else members.gather(1, order)
    item_expert = expert_of.view(-1).index_select(0, src)
    item_rank = torch.arange(total) - (sorted_counts.cumsum(0) - sorted_counts).index_select(0, src)

    # 3. replicas -> GPUs: table[b, g * per_gpu + k] = item (index into node b's list) in slot k of GPU g
    if pack is pack_spread or pack is pack_rounds:
        table = _deal_table(item_load, gpus, switches if pack is pack_spread else (per_gpu,), spread)
    else:
        gpu_of = checked_packing(pack(item_load, gpus), item_load, gpus, getattr(pack, "__name__", "pack"))
        table = torch.argsort(gpu_of * node_slots + torch.arange(node_slots), dim=1)
    if refine_rounds > 0 and gpus > 1 and per_gpu > 1:
        table_w = item_load.gather(1, table)
        swap_rounds(table_w.view(rows, gpus, per_gpu), table.view(rows, gpus, per_gpu), refine_rounds, near, pairs)

    # 4. the DeepSeek triple
    phy2log = item_expert.view(rows, node_slots).gather(1, table).view(layers, num_replicas)
    if members is None:
        logcnt = counts
    else:
        logcnt = torch.empty(layers, experts, dtype=torch.int64).scatter_(
            1, members.view(layers, experts), counts.view(layers, experts))
    width = int(counts.max())
    rank = item_rank.view(rows, node_slots).gather(1, table).view(layers, num_replicas)
    log2phy = torch.full((layers, experts * width), -1, dtype=torch.int64)
    log2phy.scatter_(1, phy2log * width + rank, torch.arange(num_replicas).expand(layers, num_replicas))
    return phy2log, log2phy.view(layers, experts, width), logcnt
