"""Compiled row kernels for the numpy pipeline (:mod:`heubase.eplb.lean`).

The numpy pipeline spends most of its time in steps that vectorise badly:
the rounds of dealing, the swap rounds, the replica moves, listing each row's
replicas and writing the final tables; every step there is a handful of numpy
calls over all rows. Here each row is one pass of plain loops, compiled by
numba when it is installed (with more than 16 packs numpy still sorts the
dealing keys, all rows at once, between kernel rounds: its vectorised sort
beats a row-by-row one; with up to 16 packs :func:`pack_rows` takes each
row through the replica lists, the dealing and the repack rounds in one
pass, out of the row helpers the batch kernels loop over). The kernels give
exactly the numpy code's plans (same orders, same tie rules, NaN where numpy
puts it, sums in the same order; ``tests/heubase/test_kernels.py`` checks
it), so a plan does not
depend on whether numba is there: without it the module-level kernels are
None and :mod:`heubase.eplb.lean` runs its numpy code.

Compilation happens when this module is imported (about 10 s on a 2-core
machine) and is cached on disk beside it where that folder is writable, so
later imports take about half a second; a warm sandbox parent imports it once
for all the workers it forks (``[limits] preload`` in
``problems/eplb/problem.toml``). Kernels run without bounds checks: they are
called only by :mod:`heubase.eplb.lean`, which hands them C-contiguous,
writable arrays of the right dtypes and shapes and clips counts to them.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import numpy as np


def compile_kernel(function: Callable, signature: str) -> Optional[Callable]:
    """``function`` compiled by numba for ``signature``, or None where numba is missing or cannot compile it.

    The machine code is cached on disk beside the source where that works
    (a writable folder, a module importable under its name), else kept in
    memory; a failure is a warning and the caller's numpy code runs instead.
    """
    try:
        import numba
    except ImportError:
        return None
    failure: Exception | None = None
    for cache in (True, False):
        try:
            return numba.njit(signature, cache=cache, nogil=True)(function)
        except Exception as exc:  # noqa: BLE001 - no cache folder, a stale cache, an old numba: fall back
            failure = exc
    warnings.warn(f"numba could not compile {function.__name__} ({type(failure).__name__}: {failure}); "
                  "the numpy code runs instead", RuntimeWarning, stacklevel=2)
    return None


def index_bits(n: int) -> int:
    """Bits of an index below ``n``, at least 1: ``max(1, (n - 1).bit_length())``, as the numpy code's keys."""
    bits, rest = 1, (n - 1) >> 1
    while rest > 0:
        bits, rest = bits + 1, rest >> 1
    return bits


def dealt_item(k: int, j: int, h: int, m: int, c: int) -> int:
    """Rank of the item dealt as the ``j``-th of round ``k`` (``m`` packs, ``c`` rounds, switch ``h``): ``h`` rounds of
    consecutive items, then strided tail rounds (:func:`heubase.eplb.fast.deal_schedules`)."""
    return k * m + j if k < h else h * m + j * (c - h) + (k - h)


def layout_row(order: np.ndarray, per_replica: np.ndarray, counts: np.ndarray, base: int, src: np.ndarray,
               item_load: np.ndarray) -> None:
    """One row of :func:`layout_rows`: expert ``order[i]`` listed ``counts[e]`` times, ``src`` gets ``base + e``."""
    slots = src.shape[0]
    s = 0
    for i in range(order.shape[0]):
        e = order[i]
        for _ in range(counts[e]):
            if s < slots:
                src[s] = base + e
                item_load[s] = per_replica[e]
            s += 1


def layout_rows(order: np.ndarray, per_replica: np.ndarray, counts: np.ndarray, src: np.ndarray,
                item_load: np.ndarray) -> None:
    """Kernel of :func:`heubase.eplb.lean._replica_layout` after its sort: each row's replicas in ``order``.

    Row ``b`` lists expert ``order[b, i]`` ``counts[b, e]`` times: ``src [B,
    S]`` its flat index ``b * n + e``, ``item_load [B, S]`` its load per
    replica ``per_replica[b, e]``. Writes stop at ``S`` (counts are checked
    to sum to ``S`` before they get here).
    """
    n = order.shape[1]
    for b in range(order.shape[0]):
        LAYOUT_ROW(order[b], per_replica[b], counts[b], b * n, src[b], item_load[b])


def replica_order(values: np.ndarray, order: np.ndarray, key: np.ndarray, keyed: bool, changed: np.ndarray,
                  spare: np.ndarray) -> None:
    """Sort ``order`` (a permutation of ``values``' indices) in place into
    :func:`heubase.eplb.replicate.order_desc`'s order of ``values`` (finite, >= 0).

    ``keyed``: by the int32 keys of :func:`heubase.eplb.replicate.descending_keys`
    (quantised on the row's largest value, index in the low bits; written into
    the int64 scratch ``key``), else by value, largest first, ties to the lower
    index. Made for an ``order`` that was sorted before the values of the
    items marked in ``changed`` changed: those are taken out and sorted on their
    own (in ``spare``, int64 ``[n]``), the rest keep their order (checked, and
    sorted too where a new quantisation step reordered them), and the two runs
    are merged.
    """
    n = values.shape[0]
    if keyed:
        bits = INDEX_BITS(n)
        top = (1 << (31 - bits)) - 1
        peak = 0.0
        for i in range(n):
            peak = max(peak, values[i])
        scale = top / max(peak, 1e-290)
        for i in range(n):
            key[i] = ((top - np.int64(np.int32(values[i] * scale))) << bits) | i
    kept, moved = 0, 0
    for a in range(n):
        e = order[a]
        if changed[e]:
            spare[moved] = e
            moved += 1
        else:
            order[kept] = e
            kept += 1
    for run, size in ((order, kept), (spare, moved)):         # insertion sorts: the kept run is nearly sorted
        for a in range(1, size):
            p = run[a]
            t = a - 1
            while t >= 0:
                q = run[t]
                if not (key[q] > key[p] if keyed else values[q] < values[p] or values[q] == values[p] and q > p):
                    break
                run[t + 1] = q
                t -= 1
            run[t + 1] = p
    i, j = kept - 1, moved - 1                                 # merge from the back, in place
    for out in range(n - 1, -1, -1):
        if j < 0:
            break
        take_kept = False
        if i >= 0:
            p, q = order[i], spare[j]
            take_kept = key[p] > key[q] if keyed else values[p] < values[q] or values[p] == values[q] and p > q
        if take_kept:
            order[out] = order[i]
            i -= 1
        else:
            order[out] = spare[j]
            j -= 1


def row_peak(values: np.ndarray) -> float:
    """The largest of ``values`` as numpy's ``max``: NaN wins."""
    peak = values[0]
    for j in range(1, values.shape[0]):
        if values[j] > peak or np.isnan(values[j]):
            peak = values[j]
    return peak


def deal_row(row: np.ndarray, num_packs: int, spread: int, fixed: np.ndarray, table: np.ndarray, loads: np.ndarray,
             switches: np.ndarray, order: np.ndarray, load: np.ndarray, packs: np.ndarray, kept: np.ndarray,
             stop: float) -> bool:
    """One row of :func:`deal_rows`: ``row [n]`` into ``table [n]`` and ``loads [m]``; True.

    With one switch, the deal stops as soon as a pack's load reaches
    ``stop`` (loads only grow, so its heaviest pack would end at ``stop`` or
    above) and returns False, ``table`` and ``loads`` unfinished; ``stop =
    inf`` deals to the end. Scratch space, allocated once by the caller:
    ``switches [V]`` (V: the number of switches dealt), ``order [m]``
    (int64), ``load [m]``, ``packs`` and ``kept [c, m]`` (int64).
    """
    n = row.shape[0]
    m = num_packs
    c = n // m
    count = switches.shape[0]
    careful = False                   # loads can be NaN only where an item is not finite
    total = 0.0
    for i in range(n):
        total += row[i]               # summed in order (as numpy's cumsum): the mean does not depend on the path
        if not np.isfinite(row[i]):
            careful = True
    if fixed.shape[0] > 0:
        for v in range(count):
            switches[v] = fixed[v]
    else:
        mean = total / n
        above = 0
        for i in range(n):
            if row[i] > mean:
                above += 1
        centre = (above + m - 1) // m
        for v in range(count):
            switches[v] = min(max(centre - spread + v, 1), c)
    best_peak = np.inf
    best_h = 1
    for v in range(count):
        h = switches[v]
        for j in range(m):
            load[j] = row[j]
            packs[0, j] = j
            order[j] = m - 1 - j
        for k in range(1, c):
            # packs by load ascending (equal loads: lower pack first): insertion sort starting from the
            # previous round's order, which few packs leave (5 of 28 pairs out of order on 4 nodes x 8 GPUs)
            for a in range(1, m):
                p = order[a]
                t = a - 1
                while t >= 0:
                    q = order[t]
                    if not careful:
                        after = load[q] > load[p] or load[q] == load[p] and q > p
                    elif np.isnan(load[q]) != np.isnan(load[p]):           # as numpy's argsort: NaN last
                        after = np.isnan(load[q])
                    else:
                        after = load[q] > load[p] or (load[q] == load[p] or np.isnan(load[q])) and q > p
                    if not after:
                        break
                    order[t + 1] = q
                    t -= 1
                order[t + 1] = p
            for j in range(m):
                p = order[j]
                packs[k, j] = p
                load[p] += row[DEALT_ITEM(k, j, h, m, c)]
                if load[p] >= stop and count == 1:
                    return False
        peak = ROW_PEAK(load)
        if count == 1:                # one switch (the usual case): straight into the outputs, no copies
            for j in range(m):
                loads[j] = load[j]
            for k in range(c):
                for j in range(m):
                    table[packs[k, j] * c + k] = DEALT_ITEM(k, j, h, m, c)
        elif v == 0 or (peak < best_peak or np.isnan(peak)) and not np.isnan(best_peak):   # numpy's argmin:
            best_peak, best_h = peak, h                                                 # first min or NaN
            loads[:] = load
            kept[:] = packs
    if count > 1:
        for k in range(c):
            for j in range(m):
                table[kept[k, j] * c + k] = DEALT_ITEM(k, j, best_h, m, c)
    return True


def deal_rows(ordered: np.ndarray, num_packs: int, spread: int, fixed: np.ndarray, table: np.ndarray,
              loads: np.ndarray) -> None:
    """Kernel of :func:`heubase.eplb.lean.deal_table` for up to 16 packs: ``table [B, n]``, ``loads [B, m]``.

    ``ordered [B, n]`` rows sorted descending, ``fixed`` the switches to try
    (empty: the automatic switch ``± spread``, centred on the items above the
    row's mean, its items summed in order). Round 0 puts item ``j`` on pack
    ``j``; round ``k`` its ``j``-th heaviest item (strided tail rounds after
    the switch) on the ``j``-th lightest pack (equal loads: lower pack first).
    Every switch is dealt; a row keeps the one with the lightest heaviest pack
    (the first on ties). Entry ``p * c + k`` of ``table`` is the item dealt to
    pack ``p`` in round ``k``.
    """
    m = num_packs
    c = ordered.shape[1] // m
    switches = np.empty(fixed.shape[0] if fixed.shape[0] > 0 else 2 * spread + 1, np.int64)
    order, load = np.empty(m, np.int64), np.empty(m, np.float64)
    packs, kept = np.empty((c, m), np.int64), np.empty((c, m), np.int64)
    for b in range(ordered.shape[0]):
        DEAL_ROW(ordered[b], m, spread, fixed, table[b], loads[b], switches, order, load, packs, kept, np.inf)


def deal_start(ordered: np.ndarray, scale: np.ndarray, num_packs: int, spread: int,
               fixed: np.ndarray, switch: np.ndarray, load: np.ndarray, keys: np.ndarray) -> None:
    """First step of the round-major dealing (more than 16 packs; see :func:`deal_round`), on ``B * V`` rows.

    Row ``b * V + v`` deals row ``b`` of ``ordered`` with its ``v``-th switch
    (``fixed``, or the automatic switch ``± spread`` as in :func:`deal_rows`)
    into ``switch``; round 0 puts item ``j`` on pack ``j`` (``load [B * V, m]``)
    and ``keys [B * V, m]`` (int32) get the sort keys of the next round.
    """
    batch, n = ordered.shape
    m = num_packs
    c = n // m
    count = switch.shape[0] // batch
    bits = INDEX_BITS(m)
    for b in range(batch):
        centre = 0
        if fixed.shape[0] == 0:
            total = 0.0
            for i in range(n):
                total += ordered[b, i]
            mean = total / n          # as deal_row's
            above = 0
            for i in range(n):
                if ordered[b, i] > mean:
                    above += 1
            centre = (above + m - 1) // m
        for v in range(count):
            r = b * count + v
            switch[r] = fixed[v] if fixed.shape[0] > 0 else min(max(centre - spread + v, 1), c)
            for j in range(m):
                load[r, j] = ordered[b, j]
                keys[r, j] = (np.int32(load[r, j] * scale[b]) << bits) | j


def deal_round(ordered: np.ndarray, switch: np.ndarray, scale: np.ndarray, k: int, keys: np.ndarray,
               load: np.ndarray, packs: np.ndarray) -> None:
    """Round ``k`` of the round-major dealing: ``keys`` sorted (by numpy, all rows at once) order the packs.

    With more than 16 packs the numpy code orders packs by int32 keys (load
    quantised on the row's total, pack in the low bits); numba's sort of one
    row is slower than numpy's vectorised sort of all rows, so rounds
    alternate: numpy sorts the keys, this kernel puts the round's ``j``-th
    heaviest item (strided tail rounds after each row's switch, as
    :func:`deal_rows`) on the ``j``-th pack of the order, records it in
    ``packs [B * V, c, m]`` and writes the next round's keys.
    """
    batch, n = ordered.shape
    rows, m = load.shape
    c = n // m
    count = rows // batch
    bits = INDEX_BITS(m)
    mask = (1 << bits) - 1
    for r in range(rows):
        b = r // count
        h = switch[r]
        for j in range(m):
            p = keys[r, j] & mask
            packs[r, k, j] = p
            load[r, p] += ordered[b, DEALT_ITEM(k, j, h, m, c)]
        for p in range(m):
            keys[r, p] = (np.int32(load[r, p] * scale[b]) << bits) | p


def deal_end(switch: np.ndarray, load: np.ndarray, packs: np.ndarray, table: np.ndarray, loads: np.ndarray) -> None:
    """Last step of the round-major dealing: each row keeps the candidate with the lightest heaviest pack (the
    first on ties); ``table [B, n]`` and ``loads [B, m]`` as :func:`deal_rows` gives them."""
    batch, n = table.shape
    rows, m = load.shape
    c = n // m
    count = rows // batch
    for b in range(batch):
        best, best_peak = b * count, np.inf
        for r in range(b * count, (b + 1) * count):
            peak = ROW_PEAK(load[r])
            if r == b * count or (peak < best_peak or np.isnan(peak)) and not np.isnan(best_peak):
                best, best_peak = r, peak                               # numpy's argmin: first min or NaN
        h = switch[best]
        for j in range(m):
            loads[b, j] = load[best, j]
            table[b, j * c] = j
        for k in range(1, c):
            for j in range(m):
                table[b, packs[best, k, j] * c + k] = DEALT_ITEM(k, j, h, m, c)


def swap_row(table_w: np.ndarray, table: np.ndarray, rounds: int, near: float, use_near: bool, pairs: int,
             start_load: np.ndarray, has_load: bool, slack: float, work: np.ndarray, marks: np.ndarray) -> None:
    """Max–min swap rounds on one row's pack tables ``[m, c]`` (weights, ids), in place.

    Per round the ``q``-th heaviest pack meets the ``q``-th lightest (``q <
    pairs``; heaviest by load, then by higher index; lightest by load, then by
    lower index; with one pair the first heaviest and the first lightest), and
    the swap bringing them closest together is applied when it lowers the
    heavier one by more than ``slack``. With ``use_near`` no swap moves an item
    into a pack holding a near twin (``near``: relative width; 0: equal). Pack
    loads are summed item by item in slot order, the first round's taken from
    ``start_load [m]`` when ``has_load``. Callers run it only where every weight is
    finite (elsewhere no swap can pass the test: the slack is inf or NaN), so
    loads are never NaN. ``work`` (float64, ``m + 2 c``) and
    ``marks`` (int64, ``m + 2 pairs``) are scratch space, allocated once by the
    caller for all rows.
    """
    m, c = table_w.shape
    k = min(max(pairs, 1), m // 2)
    load, target, w_lo = work[:m], work[m:m + c], work[m + c:m + 2 * c]
    taken, hi, lo = marks[:m], marks[m:m + k], marks[m + k:m + 2 * k]
    swapped = True
    for step in range(rounds):
        if not swapped and (step > 1 or not has_load):    # nothing moved in a round with loads summed as
            break                                          # this one's: every later round would do the same
        swapped = False
        for p in range(m):
            if step == 0 and has_load:
                load[p] = start_load[p]
            else:
                load[p] = table_w[p, 0]
                for i in range(1, c):
                    load[p] += table_w[p, i]
        if k == 1:                    # the first heaviest and the first lightest (loads are never NaN here)
            hi[0], lo[0] = 0, 0
            for p in range(1, m):
                if load[p] > load[hi[0]]:
                    hi[0] = p
                if load[p] < load[lo[0]]:
                    lo[0] = p
        else:                         # k lightest and k heaviest of a stable ascending order, by selection
            taken[:] = 0
            for q in range(k):
                best = -1
                for p in range(m):
                    if taken[p] == 0 and (best < 0 or load[p] < load[best]):
                        best = p
                lo[q] = best
                taken[best] = 1
            for q in range(k):
                best = -1
                for p in range(m):
                    if taken[p] == 0 and (best < 0 or load[p] >= load[best]):
                        best = p
                hi[q] = best
                taken[best] = 1
        for q in range(k):
            ph, pl = hi[q], lo[q]
            half = 0.0
            low = 0.0
            for i in range(c):
                half += table_w[ph, i]
                low += table_w[pl, i]
            half = (half - low) * 0.5
            for i in range(c):
                target[i] = table_w[ph, i] - half
                w_lo[i] = table_w[pl, i]
            if use_near:
                for i in range(c):
                    heavy = table_w[ph, i]
                    for j in range(c):
                        light = table_w[pl, j]
                        if (heavy == light) if near == 0 else (heavy * (1 - near) <= light <= heavy * (1 + near)):
                            target[i] = np.inf
                            w_lo[j] = -np.inf
            best_score = np.inf
            bi, bj = 0, 0
            for i in range(c):
                for j in range(c):
                    score = abs(target[i] - w_lo[j])
                    if score < best_score:
                        best_score, bi, bj = score, i, j
            if best_score < half - slack:
                table_w[ph, bi], table_w[pl, bj] = table_w[pl, bj], table_w[ph, bi]
                table[ph, bi], table[pl, bj] = table[pl, bj], table[ph, bi]
                swapped = True


def swap_rows(table_w: np.ndarray, table: np.ndarray, rounds: int, near: float, use_near: bool, pairs: int,
              start_load: np.ndarray, has_load: bool) -> None:
    """Kernel of :func:`heubase.eplb.lean.swap_rounds_np`: :func:`swap_row` on every row of ``[B, m, c]`` tables.

    The slack comes from the largest weight of the whole batch.
    """
    batch, m, c = table_w.shape
    if m < 2 or c < 1 or batch == 0 or rounds <= 0:
        return
    top = 0.0
    for b in range(batch):
        for p in range(m):
            for i in range(c):
                if abs(table_w[b, p, i]) > top or np.isnan(table_w[b, p, i]):     # as numpy's max: NaN wins
                    top = abs(table_w[b, p, i])
    slack = top * (4 * (m * c) ** 2 * 2.220446049250313e-16)             # as the numpy code's slack
    if not np.isfinite(slack):        # an inf or NaN weight: no swap can lower a pair by more than the slack
        return
    work, marks = np.empty(m + 2 * c, np.float64), np.empty(m + 2 * max(pairs, 1), np.int64)
    for b in range(batch):
        SWAP_ROW(table_w[b], table[b], rounds, near, use_near, pairs, start_load[b if has_load else 0], has_load, slack,
                 work, marks)


def finish_rows(src: np.ndarray, item_load: np.ndarray, table: np.ndarray, gpu_load: np.ndarray,
                members: np.ndarray, node_experts: int, nodes: int, gpus: int, rounds: int, near: float,
                use_near: bool, pairs: int, counts: np.ndarray, phy2log: np.ndarray, log2phy: np.ndarray,
                logcnt: np.ndarray) -> None:
    """Kernel of the end of :func:`heubase.eplb.lean.rebalance_lean`: swaps, then the DeepSeek triple's tables.

    Row ``b`` (layer ``b // nodes``, node ``b % nodes``) lists its replicas in
    ``src [B, S]`` (flat index of each replica's expert into ``[B,
    node_experts]``, an expert's replicas consecutive) with loads ``item_load
    [B, S]``; ``table [B, S]`` holds the replica in each of the node's slots
    (``g * S / gpus + i``: slot ``i`` of GPU ``g``), ``gpu_load [B, gpus]``.
    ``rounds`` of :func:`swap_row` (slack from the largest replica load of all
    rows) rearrange ``table``; then ``phy2log [L, R]`` gets each slot's expert
    (global id: ``members[src]``, or ``src % node_experts`` when ``members``
    is empty) and ``log2phy [L, E, X]`` each replica's slot, replica ``r`` of
    an expert in column ``r`` (-1 past its count); with ``members``, ``logcnt
    [L, E]`` gets the counts ``counts [B, node_experts]`` of each node's
    experts (without, the caller uses ``counts`` itself).
    """
    batch, slots = src.shape
    per_gpu = slots // gpus
    swapping = rounds > 0 and gpus > 1 and per_gpu > 1
    slack = 0.0
    if swapping:
        top = 0.0
        for b in range(batch):
            for s in range(slots):
                if abs(item_load[b, s]) > top or np.isnan(item_load[b, s]):      # as numpy's max: NaN wins
                    top = abs(item_load[b, s])
        slack = top * (4 * slots ** 2 * 2.220446049250313e-16)
        swapping = np.isfinite(slack)  # an inf or NaN load: no swap can lower a pair by more than the slack
    rank = np.empty(slots, np.int64)
    table_w = np.empty((gpus, per_gpu), np.float64)
    work, marks = np.empty(gpus + 2 * per_gpu, np.float64), np.empty(gpus + 2 * max(pairs, 1), np.int64)
    for b in range(batch):
        for s in range(slots):
            rank[s] = rank[s - 1] + 1 if s > 0 and src[b, s] == src[b, s - 1] else 0
        row = table[b]
        if swapping:                  # (no integer division per slot: a divide costs dozens of cycles)
            for g in range(gpus):
                for i in range(per_gpu):
                    table_w[g, i] = item_load[b, row[g * per_gpu + i]]
            SWAP_ROW(table_w, row.reshape((gpus, per_gpu)), rounds, near, use_near, pairs, gpu_load[b], True, slack,
                     work, marks)
        layer, first = b // nodes, (b % nodes) * slots
        if b % nodes == 0:
            log2phy[layer] = -1
        if members.shape[0] > 0:
            for e in range(node_experts):
                logcnt[layer, members[b * node_experts + e]] = counts[b, e]
        for s in range(slots):
            replica = row[s]
            flat = src[b, replica]
            expert = members[flat] if members.shape[0] > 0 else flat - b * node_experts   # src: row b's experts
            phy2log[layer, first + s] = expert
            log2phy[layer, expert, rank[replica]] = first + s


def moves_row(table: np.ndarray, load: np.ndarray, src: np.ndarray, weight: np.ndarray, counts: np.ndarray,
              experts: int, k: int, moved: np.ndarray, taken: np.ndarray, receivers: np.ndarray, picks: np.ndarray,
              donor: np.ndarray, rank: np.ndarray, key: np.ndarray) -> None:
    """One row of :func:`repack_moves` (``table [n]``, ``load [m]``, ``src [n]``, ``weight`` and ``counts [E]``
    into ``moved [E]``). Scratch: ``taken`` (bool, at least ``m``), ``receivers`` (``min(k, m)``), ``picks`` (at
    least 1 and ``min(k, m)``), ``donor``, ``rank`` and ``key`` (``[E]``)."""
    m = load.shape[0]
    n = weight.shape[0]
    capacity = table.shape[0] // m
    kk = min(max(k, 0), m)
    moves = min(kk, n)
    bits = INDEX_BITS(n)                               # as descending_keys: index bits, then value bits
    value_bits = 31 - bits
    keyed = n > 16 and value_bits >= 16
    top_key = (1 << value_bits) - 1
    for i in range(n):
        moved[i] = counts[i]
    taken[:] = False
    for q in range(kk):
        best = -1
        for p in range(m):
            if not taken[p] and (best < 0 or load[p] > load[best]):
                best = p
        taken[best] = True
        first = table[best * capacity]
        for j in range(1, capacity):
            first = min(first, table[best * capacity + j])
        receivers[q] = src[first] % experts
    if moves == 0:
        return
    for i in range(n):
        donor[i] = weight[i] / max(counts[i] - 1, 1) if counts[i] > 1 else np.inf
    for q in range(kk):
        donor[receivers[q]] = np.inf
    top = 0.0
    for i in range(n):
        if np.isfinite(donor[i]):
            top = max(top, donor[i])
    peak = 0.0
    for i in range(n):
        rank[i] = (2 * top - donor[i] if top > 0 else 1.0) if np.isfinite(donor[i]) else 0.0
        peak = max(peak, rank[i])
    scale = top_key / max(peak, 1e-290)
    if keyed:
        for i in range(n):
            key[i] = ((top_key - np.int64(np.int32(rank[i] * scale))) << bits) | i
    found = 0                                      # the donors in order: smallest keys (keyed) or largest
    for i in range(n):                             # ranks, lower index first; one pass, a sorted short list
        t = found
        while t > 0 and (key[i] < key[picks[t - 1]] if keyed else rank[i] > rank[picks[t - 1]]):
            if t < moves:
                picks[t] = picks[t - 1]
            t -= 1
        if t < moves:
            picks[t] = i
            found = min(found + 1, moves)
    for q in range(moves):
        if np.isfinite(donor[picks[q]]):
            moved[receivers[q]] += 1
            moved[picks[q]] -= 1


def repack_moves(table: np.ndarray, load: np.ndarray, src: np.ndarray, weight: np.ndarray, counts: np.ndarray,
                 experts: int, k: int, moved: np.ndarray) -> None:
    """Kernel of :func:`heubase.eplb.lean.hot_pack_experts` then :func:`heubase.eplb.replicate.move_replicas`.

    Per row: the experts of the heaviest replica on each of the ``k``
    heaviest packs (by load, then lower index; ``table [B, n]``, ``load [B,
    m]``, ``src [B, n]`` as there) receive one replica each, in that order,
    from the cheapest donors (smallest ``weight / (counts - 1)`` among the
    non-receivers with two or more, ordered by the same quantised keys as
    :func:`heubase.eplb.replicate.order_desc`); ``moved [B, E]`` gets the new
    counts.
    """
    batch, m = load.shape
    n = weight.shape[1]
    kk = min(max(k, 0), m)
    taken, receivers, picks = np.zeros(max(m, n), np.bool_), np.empty(kk, np.int64), np.empty(max(kk, 1), np.int64)
    donor, rank, key = np.empty(n, np.float64), np.empty(n, np.float64), np.empty(n, np.int64)
    for b in range(batch):
        MOVES_ROW(table[b], load[b], src[b], weight[b], counts[b], experts, k, moved[b], taken, receivers, picks,
                  donor, rank, key)


def pack_rows(weight: np.ndarray, counts: np.ndarray, order: np.ndarray, num_packs: int, spread: int,
              fixed: np.ndarray, k: int, rounds: int, gain: float, src: np.ndarray, item_load: np.ndarray,
              table: np.ndarray, gpu_load: np.ndarray) -> None:
    """Kernel of :func:`heubase.eplb.lean.rebalance_lean`'s replica lists, dealing and repack rounds (up to 16 packs).

    Row by row, as the batch steps there do: the replicas of ``weight [B, E]``
    with ``counts [B, E]`` listed in ``order [B, E]`` (:func:`layout_row`,
    ``src`` and ``item_load [B, S]``), dealt onto ``num_packs`` packs
    (:func:`deal_row` with ``spread`` and ``fixed``: ``table [B, S]``,
    ``gpu_load [B, m]``); then, when ``k > 0`` and there are two packs or
    more, up to ``rounds`` repack rounds: the moves of :func:`moves_row`,
    the replicas sorted again (:func:`replica_order`, from the row's last
    order) and dealt again, kept where the heaviest pack drops below ``(1 -
    gain)`` times the kept one, else the row stops (its next round would
    try the same moves). A round is not dealt where no packing could pass:
    the mean pack load (less a margin far above rounding) or the heaviest
    replica is already at the target, and a deal stops once a pack reaches
    the target. ``counts`` and ``order`` end as the kept ones.
    """
    batch, n = weight.shape
    slots = src.shape[1]
    m = num_packs
    c = slots // m
    keyed = n > 16 and 31 - INDEX_BITS(n) >= 16          # as order_desc
    per, key = np.empty(n, np.float64), np.empty(n, np.int64)
    moved, new_order, spare = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    changed = np.empty(n, np.bool_)
    new_src, new_table = np.empty(slots, np.int64), np.empty(slots, np.int64)
    new_item, new_load = np.empty(slots, np.float64), np.empty(m, np.float64)
    switches = np.empty(fixed.shape[0] if fixed.shape[0] > 0 else 2 * spread + 1, np.int64)
    deal_order, deal_load = np.empty(m, np.int64), np.empty(m, np.float64)
    packs, kept = np.empty((c, m), np.int64), np.empty((c, m), np.int64)
    kk = min(max(k, 0), m)
    taken, receivers, picks = np.zeros(max(m, n), np.bool_), np.empty(kk, np.int64), np.empty(max(kk, 1), np.int64)
    donor, rank, donor_key = np.empty(n, np.float64), np.empty(n, np.float64), np.empty(n, np.int64)
    for b in range(batch):
        for i in range(n):
            per[i] = weight[b, i] / counts[b, i]
        LAYOUT_ROW(order[b], per, counts[b], b * n, src[b], item_load[b])
        DEAL_ROW(item_load[b], m, spread, fixed, table[b], gpu_load[b], switches, deal_order, deal_load, packs, kept,
                 np.inf)
        if kk == 0 or m < 2:
            continue
        peak = ROW_PEAK(gpu_load[b])
        total = 0.0
        for i in range(n):
            total += weight[b, i]
        floor = total / m * (1 - 1e-9)       # no packing of the row has a lighter heaviest pack (rounding aside)
        for _ in range(rounds):
            target = peak * (1 - gain)
            if floor >= target:               # a round could not pass the test below: the batch code's result
                break
            MOVES_ROW(table[b], gpu_load[b], src[b], weight[b], counts[b], n, kk, moved, taken, receivers, picks,
                      donor, rank, donor_key)
            heaviest = 0.0
            for i in range(n):
                per[i] = weight[b, i] / moved[i]
                heaviest = max(heaviest, per[i])
                new_order[i] = order[b, i]
                changed[i] = moved[i] != counts[b, i]
            if heaviest >= target:            # the pack of the heaviest replica alone fails the test
                break
            REPLICA_ORDER(per, new_order, key, keyed, changed, spare)
            LAYOUT_ROW(new_order, per, moved, b * n, new_src, new_item)
            if not DEAL_ROW(new_item, m, spread, fixed, new_table, new_load, switches, deal_order, deal_load, packs,
                            kept, target):            # a pack reached the target: the deal could not pass the test
                break
            new_peak = ROW_PEAK(new_load)
            if not new_peak < target:
                break
            peak = new_peak
            for i in range(n):        # (loops: numba's slice assignments cost more here)
                counts[b, i], order[b, i] = moved[i], new_order[i]
            for s in range(slots):
                src[b, s], item_load[b, s], table[b, s] = new_src[s], new_item[s], new_table[s]
            for j in range(m):
                gpu_load[b, j] = new_load[j]


def node_rows(w: np.ndarray, groups: int, nodes: int, members: np.ndarray, node_w: np.ndarray) -> None:
    """Kernel of :func:`heubase.eplb.lean._groups_to_nodes` with one or two groups per node, and the gather after it.

    Per layer of ``w [L, E]`` the ``groups`` consecutive expert groups are
    ranked by load (their experts summed in order; largest first, ties to the
    lower index); with one group per node node ``j`` gets
    the ``j``-th, with two the ``j``-th and the ``(2 * nodes - 1 - j)``-th.
    Row ``l * nodes + j`` of ``members`` gets the global ids of node ``j``'s
    experts, group by group, and ``node_w`` their loads.
    """
    layers = w.shape[0]
    size = w.shape[1] // groups
    per_node = groups // nodes
    order, group_load = np.empty(groups, np.int64), np.empty(groups, np.float64)
    for layer in range(layers):
        for a in range(groups):
            total = w[layer, a * size]
            for t in range(1, size):
                total += w[layer, a * size + t]
            group_load[a] = total
        for a in range(groups):                    # insertion sort: largest first, ties to the lower index
            t = a - 1
            while t >= 0 and group_load[order[t]] < group_load[a]:
                order[t + 1] = order[t]
                t -= 1
            order[t + 1] = a
        for j in range(nodes):
            b = layer * nodes + j
            for p in range(per_node):
                group = order[j] if p == 0 else order[2 * nodes - 1 - j]
                for t in range(size):
                    members[b, p * size + t] = group * size + t
                    node_w[b, p * size + t] = w[layer, group * size + t]


def kth_smallest(values: np.ndarray, k: int) -> int:
    """The ``k``-th smallest (from 0) of the distinct ``values`` (reordered in place): quickselect."""
    lo, hi = 0, values.shape[0] - 1
    while hi > lo:
        a, b, c = values[lo], values[(lo + hi) // 2], values[hi]
        pivot = max(min(a, b), min(max(a, b), c))                       # median of three
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return values[k]
    return values[lo]


def counts_rows(counts: np.ndarray, num_slots: int) -> int:
    """Kernel of :func:`heubase.eplb.plan.checked_counts`'s checks on int64 ``counts [B, n]``: 0 when every
    count is in ``[1, num_slots]`` and every row sums to ``num_slots``, else 1 (a count below 1), 2 (above
    ``num_slots``) or 3 (a row sum), the first of these that any entry breaks, in that order."""
    low, high, off = False, False, False
    for b in range(counts.shape[0]):
        total = 0
        for i in range(counts.shape[1]):
            value = counts[b, i]
            low |= value < 1
            high |= value > num_slots
            total += value            # wraps only where a count is above num_slots: reported first
        off |= total != num_slots
    return 1 if low else 2 if high else 3 if off else 0


def keys_rows(values: np.ndarray, bits: int, keys: np.ndarray) -> None:
    """Kernel of :func:`heubase.eplb.replicate.descending_keys` (each row's own peak): ``keys [B, n]`` (int32).

    Per row of ``values [B, n]`` (finite, >= 0): ``(Q - q) << bits | i`` with
    ``Q = 2 ** (31 - bits) - 1`` and ``q`` the value times ``Q / max(peak,
    1e-290)``, truncated, as the numpy code computes it.
    """
    batch, n = values.shape
    top = (1 << (31 - bits)) - 1
    for b in range(batch):
        peak = values[b, 0]
        for i in range(1, n):
            peak = max(peak, values[b, i])
        scale = top / max(peak, 1e-290)
        for i in range(n):
            keys[b, i] = np.int32(((top - np.int64(np.int32(values[b, i] * scale))) << bits) | i)


def share_rows(weight: np.ndarray, extra: int, counts: np.ndarray) -> bool:
    """Kernel of :func:`heubase.eplb.replicate.proportional_shares` (power 1): ``counts [B, n]`` from ``weight``.

    Per row: the quotas ``w * extra / total`` (total summed in order), one
    slot plus each whole part, and one more for the ``left`` largest
    remainders, ranked by the same int32 keys (remainder quantised, index in
    the low bits). The cut is found by a radix select, with few branches that
    depend on the data (a sort or quickselect per row mispredicts so often
    that it was slower than numpy's vectorised sort): the keys' top 6 bits
    are counted, the bucket holding the cut is found from the counts, and
    only that bucket's keys are searched. False, with ``counts`` unfinished,
    where a row's total lies outside ``(1e-280, 1e280)``: the numpy code
    rescales those rows.
    """
    batch, n = weight.shape
    bits = INDEX_BITS(n)
    top = (1 << (31 - bits)) - 1
    scale = top / 1.0
    keys, bucket = np.empty(n, np.int64), np.empty(n, np.int64)
    hist = np.empty(64, np.int64)
    for b in range(batch):
        total = weight[b, 0]
        for i in range(1, n):
            total += weight[b, i]
        if not 1e-280 < total < 1e280:
            return False
        factor = extra / total
        whole_sum = 0.0
        for i in range(n):
            quota = weight[b, i] * factor
            whole = np.floor(quota)
            whole_sum += whole
            counts[b, i] = np.int64(whole) + 1
            keys[i] = ((top - np.int64(np.int32((quota - whole) * scale))) << bits) | i
        left = np.int64(extra + 0.5 - whole_sum)
        if left >= n:
            for i in range(n):
                counts[b, i] += 1
        elif left > 0:
            hist[:] = 0
            for i in range(n):
                hist[keys[i] >> 25] += 1                                # keys < 2 ** 31: 64 buckets
            below, t = 0, 0
            while below + hist[t] <= left:                              # stops: the buckets hold n > left keys
                below += hist[t]
                t += 1
            m = 0
            for i in range(n):
                if keys[i] >> 25 == t:
                    bucket[m] = keys[i]
                    m += 1
            cut = KTH_SMALLEST(bucket[:m], left - below)                # the first key left out
            for i in range(n):
                counts[b, i] += np.int64(keys[i] < cut)
    return True


def hedge_rows(weight: np.ndarray, smoothing: float, shrink: bool, floor: float, raise_low: bool,
               out: np.ndarray) -> None:
    """Kernel of :mod:`heubase.eplb.hedge`: per row of ``weight [B, n]``, loads below 0 set to 0 (NaN stays),
    then (``shrink``) ``(1 - smoothing) * w + smoothing * mean``, then (``raise_low``) at least ``floor *
    mean`` (NaN wins, as ``torch.maximum``); each mean is the row's current loads summed in order, over ``n``."""
    batch, n = weight.shape
    for b in range(batch):
        total = 0.0
        for i in range(n):
            v = weight[b, i]
            if v < 0:
                v = 0.0
            out[b, i] = v
            total += v
        if shrink:
            mean = total / n
            total = 0.0
            for i in range(n):
                v = (1.0 - smoothing) * out[b, i] + smoothing * mean
                out[b, i] = v
                total += v
        if raise_low:
            low = floor * (total / n)
            for i in range(n):
                if out[b, i] < low or np.isnan(low):
                    out[b, i] = low


INDEX_BITS = compile_kernel(index_bits, "int64(int64)")             # helpers first: the kernels below call them
KTH_SMALLEST = compile_kernel(kth_smallest, "int64(int64[::1], int64)")
DEALT_ITEM = compile_kernel(dealt_item, "int64(int64, int64, int64, int64, int64)")
ROW_PEAK = compile_kernel(row_peak, "float64(float64[::1])")
SWAP_ROW = compile_kernel(swap_row, "void(float64[:, ::1], int64[:, ::1], int64, float64, boolean, int64, float64[::1], "
                                    "boolean, float64, float64[::1], int64[::1])")
LAYOUT_ROW = compile_kernel(layout_row, "void(int64[::1], float64[::1], int64[::1], int64, int64[::1], float64[::1])")
REPLICA_ORDER = compile_kernel(replica_order, "void(float64[::1], int64[::1], int64[::1], boolean, boolean[::1], "
                                              "int64[::1])")
DEAL_ROW = compile_kernel(deal_row, "boolean(float64[::1], int64, int64, int64[::1], int64[::1], float64[::1], "
                                    "int64[::1], int64[::1], float64[::1], int64[:, ::1], int64[:, ::1], float64)")
MOVES_ROW = compile_kernel(moves_row, "void(int64[::1], float64[::1], int64[::1], float64[::1], int64[::1], int64, int64, "
                                      "int64[::1], boolean[::1], int64[::1], int64[::1], float64[::1], float64[::1], "
                                      "int64[::1])")
# (where a helper failed to compile, a kernel calling it fails too, with a warning, and stays None)
DEAL_ROWS = compile_kernel(deal_rows, "void(float64[:, ::1], int64, int64, int64[::1], int64[:, ::1], float64[:, ::1])")
SWAP_ROWS = compile_kernel(swap_rows, "void(float64[:, :, ::1], int64[:, :, ::1], int64, float64, boolean, int64, "
                                      "float64[:, ::1], boolean)")
FINISH_ROWS = compile_kernel(finish_rows, "void(int64[:, ::1], float64[:, ::1], int64[:, ::1], float64[:, ::1], "
                                          "int64[::1], int64, int64, int64, int64, float64, boolean, int64, "
                                          "int64[:, ::1], int64[:, ::1], int64[:, :, ::1], int64[:, ::1])")
REPACK_MOVES = compile_kernel(repack_moves, "void(int64[:, ::1], float64[:, ::1], int64[:, ::1], float64[:, ::1], "
                                            "int64[:, ::1], int64, int64, int64[:, ::1])")
PACK_ROWS = compile_kernel(pack_rows, "void(float64[:, ::1], int64[:, ::1], int64[:, ::1], int64, int64, int64[::1], "
                                      "int64, int64, float64, int64[:, ::1], float64[:, ::1], int64[:, ::1], "
                                      "float64[:, ::1])")
DEAL_START = compile_kernel(deal_start, "void(float64[:, ::1], float64[::1], int64, int64, int64[::1], "
                                        "int64[::1], float64[:, ::1], int32[:, ::1])")
DEAL_ROUND = compile_kernel(deal_round, "void(float64[:, ::1], int64[::1], float64[::1], int64, int32[:, ::1], "
                                        "float64[:, ::1], int64[:, :, ::1])")
DEAL_END = compile_kernel(deal_end, "void(int64[::1], float64[:, ::1], int64[:, :, ::1], int64[:, ::1], float64[:, ::1])")
LAYOUT_ROWS = compile_kernel(layout_rows, "void(int64[:, ::1], float64[:, ::1], int64[:, ::1], int64[:, ::1], "
                                          "float64[:, ::1])")
HEDGE_ROWS = compile_kernel(hedge_rows, "void(float64[:, ::1], float64, boolean, float64, boolean, float64[:, ::1])")
NODE_ROWS = compile_kernel(node_rows, "void(float64[:, ::1], int64, int64, int64[:, ::1], float64[:, ::1])")
COUNTS_ROWS = compile_kernel(counts_rows, "int64(int64[:, :], int64)")
KEYS_ROWS = compile_kernel(keys_rows, "void(float64[:, ::1], int64, int32[:, ::1])")
SHARE_ROWS = compile_kernel(share_rows, "boolean(float64[:, ::1], int64, int64[:, ::1])")
