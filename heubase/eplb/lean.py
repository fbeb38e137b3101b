"""The fused fast pipeline (:func:`heubase.eplb.fast.rebalance_fast`) in numpy, with few, cheap operations.

Same algorithm, a different cost model. On a CPU with one thread the fused
torch pipeline spends most of its ~3 ms in per-op dispatch (a few µs per op,
about 260 ops) and in ``torch.sort``, which takes ~0.6 ms for a ``[58, 320]``
float64 row sort. Here:

* every row sort is one ``int32`` sort of packed keys (quantised value in the
  high bits, index in the low bits; numpy's SIMD sort, ~25 µs for
  ``[58, 320]``), which yields the order and the values' ranks at once;
* gathers and scatters are flat fancy indexing with precomputed row offsets;
* loops run only over the ``c`` rounds of dealing and the swap rounds.

Where numba is installed, the dealing, the replica lists, the replica moves,
the swaps and the final tables run as compiled row kernels instead
(:mod:`heubase.eplb.kernels`; identical plans, about half the time per call on
the problem's shapes; with up to 16 GPUs per row the replica lists, dealing
and repack rounds are one kernel that takes each row through all of them);
without it the numpy code below runs.

Inputs and outputs are torch tensors, as everywhere in this package; numpy
views share their memory, so the conversions cost microseconds. Orders of
values closer than about ``2**-22`` of their row's largest value may differ
from an exact sort (ties go to the lower index): harmless for balance.
"""
from __future__ import annotations

import functools
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from heubase.eplb.fast import deal_schedules
from heubase.eplb.hierarchical import check_cluster, is_hierarchical
from heubase.eplb.kernels import (DEAL_END, DEAL_ROUND, DEAL_ROWS, DEAL_START, FINISH_ROWS, LAYOUT_ROWS, NODE_ROWS,
                                  PACK_ROWS, REPACK_MOVES, SWAP_ROWS)
from heubase.eplb.plan import checked_counts, numpy_loads, sum_in_order
from heubase.eplb.replicate import KEY_BITS, move_replicas, order_desc, proportional_shares

Replicator = Callable[[torch.Tensor, int], torch.Tensor]
_ids = functools.partial(np.require, dtype=np.int64, requirements="CW")     # kernel arguments: C order, writable,
_floats = functools.partial(np.require, dtype=np.float64, requirements="CW")  # the kernels' dtypes (copies if not)
_LARGEST = 2 ** 62                                                           # counts and rounds passed to kernels


@functools.lru_cache(maxsize=64)
def _row_offsets(batch: int, width: int, repeat: int = 1) -> np.ndarray:
    """``[batch * repeat, 1]`` flat offset of every row's start (each repeated ``repeat`` times), cached; read-only."""
    offsets = np.repeat(np.arange(batch) * width, repeat)[:, None]
    offsets.flags.writeable = False
    return offsets


def key_scale(totals: np.ndarray, bits: int) -> np.ndarray:
    """``[B]`` factor turning loads of rows with these totals into sort keys of ``KEY_BITS - bits`` bits."""
    return ((1 << (KEY_BITS - bits)) - 1) / np.maximum(totals, 1e-290) * (1 - 1e-9)   # finite: no 0 * inf


def deal_rounds(dealt: np.ndarray, totals: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Deal rounds ``[B, c, m]`` (each sorted descending) onto ``m`` packs: ``(pack of each item, pack loads)``.

    Round 0 puts item ``j`` on pack ``j``; every later round puts its ``j``-th
    heaviest item on the ``j``-th lightest pack (cardinality-constrained LPT;
    equal loads: lower pack first). With more than 16 packs the packs are
    ordered by loads quantised on each row's total (``totals [B]``, default:
    the sum of the row's items).

    >>> packs, load = deal_rounds(np.array([[[5.0, 4.0], [3.0, 1.0]]]))
    >>> packs.tolist(), load.tolist()
    ([[[0, 1], [1, 0]]], [[6.0, 7.0]])
    """
    batch, rounds, m = dealt.shape
    load = dealt[:, 0].copy()
    packs = np.empty((batch, rounds, m), dtype=np.int64)
    packs[:, 0] = np.arange(m)
    flat = load.reshape(-1)
    offsets = _row_offsets(batch, m)
    bits = max(1, (m - 1).bit_length())
    if m > 16 and rounds > 1:            # rank the loads by int32 keys, quantised on the row's final total
        scale = key_scale(dealt.reshape(batch, -1).sum(1) if totals is None else totals, bits)[:, None]
        index = np.arange(m, dtype=np.int32)
    for k in range(1, rounds):
        if m > 16:
            keys = (load * scale).astype(np.int32) << bits
            keys |= index
            keys.sort(axis=1)
            keys &= (1 << bits) - 1
            lightest = keys
        else:
            lightest = np.argsort(load, axis=1, kind="stable")
        packs[:, k] = lightest
        flat[lightest + offsets] += dealt[:, k]
    return packs, load


def _chosen_switches(switches: Optional[Sequence[int]], capacity: int) -> Optional[list[int]]:
    """The distinct switches to deal, each clipped to ``[1, capacity]`` (None: the automatic switch)."""
    return None if switches is None else sorted({min(max(int(h), 1), capacity) for h in switches}) or [capacity]


def deal_table(ordered: np.ndarray, num_packs: int, switches: Optional[Sequence[int]] = None,
               spread: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``[B, n]`` slot table of a packing of ``ordered [B, n]`` (rows sorted descending).

    Entry ``p * c + k`` is the item dealt to pack ``p`` in round ``k``; returned
    with the pack loads ``[B, m]``. As
    :func:`heubase.eplb.fast._deal_table`: ``h`` plain rounds, then strided
    tail rounds; every switch in ``switches`` (or the per-row automatic switch
    ``± spread`` when None) is dealt and each row keeps the packing with the
    lightest heaviest pack (the first on ties).
    """
    batch, items = ordered.shape
    capacity = items // num_packs
    chosen = _chosen_switches(switches, capacity)
    if (None not in (DEAL_ROWS, DEAL_START, DEAL_ROUND, DEAL_END) and ordered.dtype == np.float64 and batch
            and capacity and items == capacity * num_packs):                 # compiled: same tables
        table, load = np.empty((batch, items), dtype=np.int64), np.empty((batch, num_packs))
        fixed = np.array(chosen or [], dtype=np.int64)
        ordered, spread = _floats(ordered), max(0, min(int(spread), capacity))
        if num_packs <= 16:
            DEAL_ROWS(ordered, num_packs, spread, fixed, table, load)
            return table, load
        rows = batch * (fixed.shape[0] or 2 * spread + 1)          # many packs: numpy sorts, kernels deal
        switch, loads, keys = np.empty(rows, np.int64), np.empty((rows, num_packs)), \
            np.empty((rows, num_packs), np.int32)
        packs = np.empty((rows, capacity, num_packs), dtype=np.int64)
        scale = key_scale(ordered.sum(1), max(1, (num_packs - 1).bit_length()))
        DEAL_START(ordered, scale, num_packs, spread, fixed, switch, loads, keys)
        for k in range(1, capacity):
            keys.sort(axis=1)
            DEAL_ROUND(ordered, switch, scale, k, keys, loads, packs)
        DEAL_END(switch, loads, packs, table, load)
        return table, load
    if switches is None:                     # items above the row's mean, summed in order as the kernels do
        above = np.count_nonzero(ordered > sum_in_order(ordered, 1)[:, None] / items, axis=1)
        centre = (above[:, None] + num_packs - 1) // num_packs
        hs = np.minimum(np.maximum(centre + np.arange(-spread, spread + 1) if spread else centre, 1), capacity)
    else:
        hs = np.broadcast_to(np.array(chosen), (batch, len(chosen)))
    count = hs.shape[1]
    plan = np.take(deal_schedules(capacity, num_packs).numpy(), hs.reshape(-1) - 1, axis=0)      # [B * V, n]
    source = np.take(ordered, plan + _row_offsets(batch, items, count))
    packs, load = deal_rounds(source.reshape(batch * count, capacity, num_packs), np.repeat(ordered.sum(1), count))
    if count > 1:
        pick = load.reshape(batch, count, num_packs).max(2).argmin(1) + np.arange(0, batch * count, count)
        plan, packs, load = plan[pick], packs[pick], load[pick]
    slot = packs * capacity + np.arange(capacity)[:, None]                                # [B, c, m]
    table = np.empty(batch * items, dtype=np.int64)
    table[slot.reshape(batch, items) + _row_offsets(batch, items)] = plan
    return table.reshape(batch, items), load


def swap_rounds_np(table_w: np.ndarray, table: np.ndarray, rounds: int = 1, near: Optional[float] = 0.03,
                   pairs: int = 1, load: Optional[np.ndarray] = None) -> None:
    """Max–min 1-for-1 swaps on pack tables ``[B, m, c]`` (weights, ids; C-contiguous), in place.

    As :func:`heubase.eplb.fast.swap_rounds`: per round and row the ``k``-th
    heaviest pack is paired with the ``k``-th lightest (``k < pairs``), the swap
    bringing each pair closest together is applied when it strictly lowers the
    heavier one, and with ``near`` set no swap moves an item into a pack holding
    a near twin (weight within a relative ``near``). ``load [B, m]``: the pack
    loads before the first round, if known (they are summed again after every round).

    >>> w = np.array([[[4.0, 3.0], [2.0, 1.0]]]); ids = np.array([[[0, 1], [2, 3]]])
    >>> swap_rounds_np(w, ids, 1); ids.tolist(), w.sum(2).tolist()
    ([[[2, 1], [0, 3]]], [[5.0, 5.0]])
    """
    batch, m, c = table_w.shape
    k = min(max(int(pairs), 1), m // 2)
    if m < 2 or c < 1 or batch == 0 or rounds <= 0:
        return
    flat_w, flat_id = table_w.reshape(-1), table.reshape(-1)
    if not (np.shares_memory(flat_w, table_w) and np.shares_memory(flat_id, table)):
        raise ValueError("swap_rounds_np needs C-contiguous tables (it swaps in place)")
    if (SWAP_ROWS is not None and table_w.dtype == np.float64 and table.dtype == np.int64
            and table.shape == table_w.shape and table_w.flags.c_contiguous and table.flags.c_contiguous
            and table_w.flags.writeable and table.flags.writeable
            and (load is None or np.shape(load) == (batch, m) and not np.isnan(load).any())):
        start = np.zeros((1, m)) if load is None else _floats(load)
        SWAP_ROWS(table_w, table, min(int(rounds), _LARGEST), 0.0 if near is None else float(near), near is not None,
                  k, start, load is not None)
        return
    load = sum_in_order(table_w, 2) if load is None else load
    pack_at = np.arange(batch) * m                                                  # [B]
    within = np.arange(c)[:, None]
    best_at = np.arange(k)[:, None] * (c * c * batch) + np.arange(batch)             # [k, B]
    slack = np.abs(flat_w).max() * (4 * (m * c) ** 2 * np.finfo(np.float64).eps)
    # work arrays are laid out [pair, item(s), row]: numpy's inner loops then run over the many rows
    for step in range(rounds):
        if step:
            load = sum_in_order(table_w, 2)
        if k == 1:
            hi, lo = load.argmax(1)[None], load.argmin(1)[None]                     # [k, B]
        else:
            by_load = np.argsort(load, axis=1, kind="stable")
            lo, hi = by_load[:, :k].T, by_load[:, :-k - 1:-1].T
        hi_at = (hi + pack_at) * c                                                   # first slots [k, B]
        lo_at = (lo + pack_at) * c
        w_hi, w_lo = flat_w[hi_at[:, None] + within], flat_w[lo_at[:, None] + within]   # [k, c, B]
        half = (sum_in_order(w_hi, 1) - sum_in_order(w_lo, 1)) * 0.5
        target = w_hi - half[:, None]                  # swapping i for j levels the pair when w_j = w_i - half
        if near is not None:                 # a row / column with a near twin on the other side is barred
            if near == 0:
                twin = w_hi[:, :, None] == w_lo[:, None]
            else:
                twin = ((w_lo[:, None] >= (w_hi * (1 - near))[:, :, None])
                        & (w_lo[:, None] <= (w_hi * (1 + near))[:, :, None]))
            target[twin.any(2)] = np.inf
            w_lo[twin.any(1)] = -np.inf
        score = np.abs(target[:, :, None] - w_lo[:, None])                         # [k, c, c, B]
        flat = score.reshape(k, c * c, batch).argmin(1)                             # [k, B]
        i, j = np.divmod(flat, c)
        here = hi_at + i
        there = np.where(score.reshape(-1)[best_at + flat * batch] < half - slack, lo_at + j, here)
        for column in (flat_w, flat_id):
            held = column[here]
            column[here] = column[there]
            column[there] = held


def _node_rows(w: np.ndarray, num_groups: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(members, node_w)``: :func:`_groups_to_nodes` and every node's loads ``[L * nodes, E / nodes]``."""
    layers, experts = w.shape
    if NODE_ROWS is not None and num_groups // nodes <= 2 and nodes <= num_groups <= min(experts, 16):  # compiled
        members, node_w = np.empty((layers * nodes, experts // nodes), np.int64), np.empty((layers * nodes,
                                                                                            experts // nodes))
        NODE_ROWS(_floats(w), num_groups, nodes, members, node_w)
        return members, node_w
    members = _groups_to_nodes(w, num_groups, nodes)
    return members, np.take(w, members + _row_offsets(layers, experts, nodes))


def _group_loads(w: np.ndarray, num_groups: int) -> np.ndarray:
    """``[L, G]`` load of every expert group, its experts summed in order (as the kernels do)."""
    return np.ascontiguousarray(sum_in_order(w.reshape(w.shape[0], num_groups, -1), 2))


def _groups_to_nodes(w: np.ndarray, num_groups: int, nodes: int) -> np.ndarray:
    """``[L * nodes, E / nodes]`` global expert ids of every node, whole groups per node, group loads levelled."""
    layers, experts = w.shape
    size = experts // num_groups
    per_node = num_groups // nodes
    group_load = _group_loads(w, num_groups)
    order = order_desc(group_load)
    if per_node == 1:
        by_node = order
    elif per_node == 2:                                                   # LPT: pair rank r with 2N-1-r
        by_node = np.stack((order[:, :nodes], order[:, :nodes - 1:-1]), 2)
    else:
        ranked = np.take_along_axis(group_load, order, 1).reshape(layers, per_node, nodes)
        packs, _ = deal_rounds(ranked)
        place = packs * per_node + np.arange(per_node)[:, None]
        by_node = np.empty_like(order)
        np.put_along_axis(by_node, place.reshape(layers, num_groups), order, axis=1)
    return (by_node.reshape(layers, num_groups, 1) * size + np.arange(size)).reshape(layers * nodes, -1)


def _replica_layout(node_w: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replicas of every row listed heaviest first: ``(src, item_load)``, each ``[B, slots]``.

    ``src`` is the flat index (into ``node_w``) of each replica's expert; an
    expert's replicas are consecutive (see :func:`_replica_ranks`).
    """
    rows, n = node_w.shape
    per_replica = node_w / counts
    if LAYOUT_ROWS is not None and per_replica.dtype == np.float64 and rows:
        slots = int(counts[0].sum())
        src, item_load = np.empty((rows, slots), dtype=np.int64), np.empty((rows, slots))
        LAYOUT_ROWS(_ids(order_desc(per_replica)), _floats(per_replica), _ids(counts), src, item_load)
        return src, item_load
    flat_order = (order_desc(per_replica) + _row_offsets(rows, n)).reshape(-1)
    src = np.repeat(flat_order, np.take(counts, flat_order))
    return src.reshape(rows, -1), np.take(per_replica, src).reshape(rows, -1)


def _replica_ranks(src: np.ndarray) -> np.ndarray:
    """Rank of every replica among its expert's replicas, from ``src`` of :func:`_replica_layout` (flat)."""
    position = np.arange(src.size)
    starts = np.ones(src.size, dtype=bool)
    np.not_equal(src[1:], src[:-1], out=starts[1:])                 # an expert's run of replicas begins
    return position - np.maximum.accumulate(np.where(starts, position, 0))


def hot_pack_experts(table: np.ndarray, load: np.ndarray, src: np.ndarray, experts: int, k: int) -> np.ndarray:
    """``[B, k]`` expert (index into a row's ``experts``) of the heaviest replica on each of the ``k`` heaviest packs.

    ``table [B, n]`` is a slot table of :func:`deal_table` (entry ``p * c + j``:
    the replica, by rank heaviest first, in slot ``j`` of pack ``p``), ``load
    [B, m]`` the pack loads and ``src [B, n]`` the flat index of each ranked
    replica's expert in a ``[B, experts]`` array. Heaviest pack first (equal loads: lower pack first).

    >>> table = np.array([[1, 2, 0, 3]]); src = np.array([[5, 5, 6, 7]])      # packs {1, 2} and {0, 3}
    >>> hot_pack_experts(table, np.array([[3.0, 4.0]]), src, 4, 1).tolist()
    [[1]]
    """
    batch, m = load.shape
    k = min(max(int(k), 0), m)
    capacity = table.shape[1] // m
    top = np.argsort(-load, axis=1, kind="stable")[:, :k]                        # heaviest first, then lower index
    heaviest = np.take_along_axis(table.reshape(batch, m, capacity), top[:, :, None], 1).min(2)   # [B, k] ranks
    return np.take_along_axis(src, heaviest, 1) % experts


def _repack_rounds(node_w: np.ndarray, counts: np.ndarray, src: np.ndarray, item_load: np.ndarray, table: np.ndarray,
                   gpu_load: np.ndarray, node_experts: int, gpus: int, switches: Optional[Sequence[int]], spread: int,
                   repack: int, repack_rounds: int, repack_gain: float) -> tuple[np.ndarray, ...]:
    """The repack rounds of :func:`rebalance_lean` on all rows at once: ``(counts, src, item_load, table, gpu_load)``."""
    peak = gpu_load.max(1)
    for _ in range(repack_rounds):
        if REPACK_MOVES is not None:
            moved = np.empty(counts.shape, dtype=np.int64)
            REPACK_MOVES(_ids(table), _floats(gpu_load), _ids(src), _floats(node_w), _ids(counts), node_experts,
                         min(int(repack), gpus), moved)
        else:
            moved = move_replicas(node_w, counts, hot_pack_experts(table, gpu_load, src, node_experts, repack))
        layout = _replica_layout(node_w, moved)
        new_table, new_load = deal_table(layout[1], gpus, switches, spread)
        new_peak = new_load.max(1)
        better = new_peak < peak * (1 - repack_gain)
        if not better.any():
            break
        keep = better[:, None]
        counts, table, gpu_load = np.where(keep, moved, counts), np.where(keep, new_table, table), \
            np.where(keep, new_load, gpu_load)
        src, item_load = np.where(keep, layout[0], src), np.where(keep, layout[1], item_load)
        peak = np.where(better, new_peak, peak)
    return counts, src, item_load, table, gpu_load


def rebalance_lean(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int, *,
                   switches: Optional[Sequence[int]] = None, spread: int = 0, refine_rounds: int = 2,
                   near: Optional[float] = 0.03, pairs: int = 1, replicate: Optional[Replicator] = None,
                   power: float = 1.0, repack: int = 0, repack_rounds: int = 1, repack_gain: float = 0.01
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EPLB plan ``(phy2log [L, R], log2phy [L, E, X], logcnt [L, E])``, int64 CPU tensors.

    :func:`heubase.eplb.fast.rebalance_fast` with :func:`pack_spread
    <heubase.eplb.fast.pack_spread>` packing, computed in numpy: whole groups to
    nodes when ``num_groups % num_nodes == 0`` (else one flat group), replica
    counts by ``replicate`` (any ``(loads [B, n] tensor, slots) -> counts``,
    checked) or, when None, :func:`heubase.eplb.replicate.proportional_shares` with ``power``; replicas
    dealt onto the node's GPUs (``switches``, ``spread``), then
    ``refine_rounds`` rounds of :func:`swap_rounds_np` (``near``, ``pairs``).
    ``log2phy`` lists every expert's slots, not necessarily in slot order.

    ``repack > 0`` makes the replication packing-aware: after dealing, the
    expert of the heaviest replica on each of the ``repack`` heaviest GPUs gets
    one more replica (:func:`hot_pack_experts`), taken from the ``repack``
    cheapest donors (:func:`heubase.eplb.replicate.move_replicas`), and the
    replicas are dealt again; a row keeps the new counts only where its heaviest
    GPU drops by more than the fraction ``repack_gain``. ``repack_rounds``
    such rounds (each one more deal). With few slots per GPU the heaviest GPU
    usually holds two mid-sized replicas that no swap can separate (more such
    replicas than GPUs); ``repack=6`` lifts same-window balance on 5 slots per GPU by
    about 0.015 for some next-window balance. Default 0: the plain pipeline.

    >>> p, l2p, cnt = rebalance_lean(torch.tensor([[8.0, 1.0, 2.0, 1.0]]), 6, 2, 2, 2)
    >>> p.tolist(), cnt.tolist()
    ([[0, 0, 1, 2, 2, 3]], [[2, 1, 2, 1]])
    """
    w = numpy_loads(weight)
    layers, experts = w.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    nodes = num_nodes if is_hierarchical(num_groups, num_nodes) else 1
    rows, node_experts, node_slots = layers * nodes, experts // nodes, num_replicas // nodes
    gpus = num_gpus // nodes
    per_gpu = node_slots // gpus

    # 1. groups -> nodes: members[b] = global ids of node b's experts (row b = layer * nodes + node)
    members, node_w = _node_rows(w, num_groups, nodes) if nodes > 1 else (None, w)

    # 2. replica counts; replicas listed by load per replica, heaviest first
    if replicate is None:
        counts = proportional_shares(node_w, node_slots, power)
    else:
        node_t = torch.from_numpy(node_w.copy())                  # the replicator cannot change the loads planned on
        counts = checked_counts(replicate(node_t, node_slots), node_t, node_slots,
                                getattr(replicate, "__name__", "replicate")).numpy()
    if PACK_ROWS is not None and gpus <= 16 and rows:                 # 2.-3. compiled, row by row: same tables
        counts = np.array(counts, dtype=np.int64, order="C")          # the repack rounds update it in place
        src, table = np.empty((rows, node_slots), dtype=np.int64), np.empty((rows, node_slots), dtype=np.int64)
        item_load, gpu_load = np.empty((rows, node_slots)), np.empty((rows, gpus))
        PACK_ROWS(_floats(node_w), counts, _ids(order_desc(node_w / counts)), gpus,
                  max(0, min(int(spread), per_gpu)), np.array(_chosen_switches(switches, per_gpu) or [], np.int64),
                  min(int(repack), gpus) if repack > 0 and gpus > 1 else 0, max(0, min(int(repack_rounds), _LARGEST)),
                  float(repack_gain), src, item_load, table, gpu_load)
    else:
        src, item_load = _replica_layout(node_w, counts)           # [rows, node_slots] each
        # 3. replicas -> GPUs: table[b, g * per_gpu + k] = replica (index into node b's list) in slot k of GPU g
        table, gpu_load = deal_table(item_load, gpus, switches, spread)
        if repack > 0 and gpus > 1:
            counts, src, item_load, table, gpu_load = _repack_rounds(node_w, counts, src, item_load, table, gpu_load,
                                                                     node_experts, gpus, switches, spread, repack,
                                                                     repack_rounds, repack_gain)
    width = int(counts.max())
    rounds = refine_rounds if refine_rounds > 0 and gpus > 1 and per_gpu > 1 else 0
    if FINISH_ROWS is not None:                                    # 4. swaps and the DeepSeek triple, compiled
        counts = _ids(counts)
        phy2log, log2phy = np.empty((layers, num_replicas), np.int64), np.empty((layers, experts, width), np.int64)
        logcnt = counts if members is None else np.empty((layers, experts), np.int64)
        FINISH_ROWS(_ids(src), _floats(item_load), _ids(table), _floats(gpu_load),
                    _ids(np.empty(0) if members is None else members.reshape(-1)), node_experts, nodes, gpus,
                    min(rounds, _LARGEST), 0.0 if near is None else float(near), near is not None,
                    max(1, min(int(pairs), gpus // 2)), counts, phy2log, log2phy, logcnt)
        return torch.from_numpy(phy2log), torch.from_numpy(log2phy), torch.from_numpy(logcnt)
    if members is None:
        logcnt = counts
    else:
        logcnt = np.empty(layers * experts, dtype=np.int64)
        logcnt[members + _row_offsets(layers, experts, nodes)] = counts
        logcnt = logcnt.reshape(layers, experts)
    src = src.reshape(-1)
    item_rank = _replica_ranks(src)
    item_expert = src % node_experts if members is None else members.reshape(-1)[src]
    table_at = table + _row_offsets(rows, node_slots)
    if rounds:
        table_w = np.take(item_load, table_at)
        swap_rounds_np(table_w.reshape(rows, gpus, per_gpu), table_at.reshape(rows, gpus, per_gpu),
                       rounds, near, pairs, gpu_load)

    # 4. the DeepSeek triple
    phy2log = item_expert[table_at].reshape(layers, num_replicas)
    log2phy = np.full(layers * experts * width, -1, dtype=np.int64)
    where = (phy2log + _row_offsets(layers, experts)) * width + item_rank[table_at].reshape(layers, num_replicas)
    log2phy[where] = np.arange(num_replicas)
    log2phy = log2phy.reshape(layers, experts, width)
    return torch.from_numpy(phy2log), torch.from_numpy(log2phy), torch.from_numpy(logcnt)
