"""Replication: how many slots each expert gets (every expert gets at least one)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from heubase.eplb.kernels import KEYS_ROWS, SHARE_ROWS
from heubase.eplb.plan import numpy_loads, sum_in_order


def _check(weight: torch.Tensor, num_slots: int) -> int:
    if weight.dim() != 2:
        raise ValueError(f"weight must be [layers, experts], got shape {tuple(weight.shape)}")
    extra = num_slots - weight.shape[1]
    if extra < 0:
        raise ValueError(f"{num_slots} slots cannot hold {weight.shape[1]} experts")
    return extra


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


def replicate_topk(weight: torch.Tensor, num_slots: int) -> torch.Tensor:
    """Closed form of the min–max greedy, with no loop.

    The greedy takes, in decreasing order, the largest of the quotients
    ``w_e / k`` (k = 1, 2, …), one spare slot per quotient; so the spare slots go
    to the ``R − E`` largest quotients overall. Same maximum load per replica as
    :func:`replicate_greedy` (ties may be broken differently). Returns ``logcnt [L, E]`` int64.
    """
    extra = _check(weight, num_slots)
    layers, experts = weight.shape
    counts = torch.ones(layers, experts, dtype=torch.int64)
    if extra == 0:
        return counts
    divisors = torch.arange(1, extra + 1, dtype=torch.float64)
    quotients = (weight.double().clamp(min=0).unsqueeze(-1) / divisors).reshape(layers, experts * extra)
    chosen = quotients.topk(extra, dim=1).indices // extra
    counts.scatter_add_(1, chosen, torch.ones_like(chosen))
    return counts


def replicate_proportional(weight: torch.Tensor, num_slots: int, power: float = 1.0) -> torch.Tensor:
    """Spare slots shared in proportion to load: largest-remainder (Hamilton) apportionment.

    Every expert keeps one slot; the ``R − E`` spare slots are divided in
    proportion to ``weight ** power``: each expert gets the whole part of its
    quota and the slots left over go to the largest remainders (ties to the
    lowest expert id); a row without load shares them evenly. The min–max
    greedy (:func:`replicate_greedy`, D'Hondt's method) levels the hottest
    replicas to one size, which packs the observed window but leaves nothing
    for drift; here a hot expert keeps a replica load in proportion to its
    share, and moderately hot experts get copies too. No loop; computed by
    :func:`proportional_shares` in numpy. Returns ``logcnt [L, E]`` int64
    summing to ``num_slots`` in every layer (NaN and negative loads count as 0).

    >>> replicate_proportional(torch.tensor([[5.0, 1.0, 2.0, 0.0]]), 8).tolist()   # quotas 2.5, 0.5, 1, 0
    [[4, 1, 2, 1]]
    """
    _check(weight, num_slots)
    return torch.from_numpy(proportional_shares(numpy_loads(weight), num_slots, power))


KEY_BITS = 31  # int32 sort keys, sign bit unused


def descending_keys(values: np.ndarray, peak: Optional[np.ndarray | float] = None
                    ) -> tuple[Optional[np.ndarray], int]:
    """Unique ``int32`` keys ``(Q - q) << b | i`` that order each row of ``values [B, n]`` (>= 0) descending,
    ties to the lower index, and ``b`` (the bits of an index); keys are None where they would be too coarse.

    ``q`` is the value quantised to ``31 - b`` bits of ``peak`` (default: the row's maximum), so values
    closer than that step sort by index. Sorting the keys and masking the low ``b`` bits gives the order.

    >>> keys, bits = descending_keys(np.array([[1.0, 3.0, 2.0, 3.0]]))
    >>> (np.sort(keys, axis=1) & ((1 << bits) - 1)).tolist()
    [[1, 3, 2, 0]]
    """
    n = values.shape[1]
    bits = max(1, (n - 1).bit_length())
    value_bits = KEY_BITS - bits
    if value_bits < 16:
        return None, bits
    if (peak is None and KEYS_ROWS is not None and values.dtype == np.float64 and values.ndim == 2
            and values.flags.c_contiguous):                                # compiled: the same keys
        keys = np.empty(values.shape, dtype=np.int32)
        KEYS_ROWS(values, bits, keys)
        return keys, bits
    top = (1 << value_bits) - 1
    if peak is None:
        peak = values.max(1, keepdims=True)
    scale = top / np.maximum(peak, 1e-290)           # finite (top <= 2 ** 30); an all-zero row keeps keys = index
    keys = (top - (values * scale).astype(np.int32)) << bits
    keys |= np.arange(n, dtype=np.int32)
    return keys, bits


def order_desc(values: np.ndarray) -> np.ndarray:
    """Row-wise argsort of ``values [B, n]`` (finite, >= 0), largest first, ties to the lower index.

    Long rows: one ``int32`` sort of keys ``(Q - q) << b | i`` with ``q`` the
    value quantised to ``31 - b`` bits of its row's maximum and ``b`` the bits
    of an index. Short rows (and rows too long for the keys): a stable argsort.

    >>> order_desc(np.array([[1.0, 3.0, 2.0, 3.0]])).tolist()
    [[1, 3, 2, 0]]
    """
    if values.shape[1] > 16:                                           # short rows: an argsort is as fast
        keys, bits = descending_keys(values)
        if keys is not None:
            keys.sort(axis=1)
            keys &= (1 << bits) - 1
            return keys
    return np.argsort(-values, axis=1, kind="stable")


def proportional_shares(weight: np.ndarray, num_slots: int, power: float = 1.0) -> np.ndarray:
    """:func:`replicate_proportional` on numpy loads ``[B, n]`` (finite, >= 0): ``[B, n]`` int64 counts.

    The largest remainders are found with one ``int32`` row sort of keys
    (remainder quantised to ``31 - log2 n`` bits, index in the low bits), so
    remainders closer than about ``2**-22`` count as equal (then the lower index wins).

    >>> proportional_shares(np.array([[5.0, 1.0, 2.0, 0.0]]), 8).tolist()
    [[4, 1, 2, 1]]
    """
    batch, n = weight.shape
    extra = num_slots - n
    if extra < 0:
        raise ValueError(f"{num_slots} slots cannot hold {n} items")
    if extra == 0 or batch == 0:
        return np.ones((batch, n), dtype=np.int64)
    if (power == 1.0 and SHARE_ROWS is not None and KEY_BITS - max(1, (n - 1).bit_length()) >= 16
            and weight.dtype == np.float64):                                 # compiled: the same counts
        counts = np.empty((batch, n), dtype=np.int64)
        if SHARE_ROWS(np.require(weight, requirements="CW"), extra, counts):
            return counts
    share = weight
    if power != 1.0:
        share = weight / np.maximum(weight.max(1, keepdims=True), 1e-300)   # scale first: no overflow in **
        if power > 0:
            with np.errstate(divide="ignore"):
                share = np.exp(np.log(share) * float(power))
        else:                                                              # x ** 0 = 1: equal shares
            share = np.ones_like(share)
    total = sum_in_order(share, 1)
    if not 1e-280 < total.min() <= total.max() < 1e280:                   # idle, tiny or huge rows: rescale
        share = share / np.maximum(share.max(1, keepdims=True), 1e-300)
        total = sum_in_order(share, 1)
        if not (total > 0).all():                                          # rows without load share evenly
            share[total <= 0] = 1.0
            total = sum_in_order(share, 1)
    quota = share * (extra / total)[:, None]
    whole = np.floor(quota)
    left = (extra + 0.5 - whole.sum(1)).astype(np.int64)                   # in [0, n]
    keys, _ = descending_keys(quota - whole, peak=1.0)                     # remainders lie in [0, 1)
    if keys is None:                                                       # keys too coarse: ranks instead
        keys = np.empty((batch, n), dtype=np.int64)
        np.put_along_axis(keys, np.argsort(whole - quota, axis=1, kind="stable"), np.arange(n), axis=1)
    cut = np.sort(keys, axis=1)[np.arange(batch), np.minimum(left, n - 1)]   # the first key left out
    if left.max() >= n:
        cut[left >= n] = np.iinfo(keys.dtype).max
    counts = whole.astype(np.int64) + 1
    counts += keys < cut[:, None]
    return counts


def move_replicas(weight: np.ndarray, counts: np.ndarray, receivers: np.ndarray) -> np.ndarray:
    """Counts ``[B, n]`` with one replica moved to every expert listed in ``receivers [B, k]``, from donors.

    The donors are the ``k`` experts of each row (not among its receivers, with
    at least two replicas) whose load per replica stays smallest after giving
    one up, ``weight / (counts - 1)``: the moves the min–max greedy would make
    last. A row with fewer than ``k`` donors moves only as many replicas (its
    first receivers get them); a receiver listed twice gets two. Returns a new
    array: row sums are kept and every count stays at least 1.

    >>> move_replicas(np.array([[9.0, 1.0, 2.0, 0.5]]), np.array([[2, 1, 2, 3]]), np.array([[0]])).tolist()
    [[3, 1, 2, 2]]
    """
    batch, n = weight.shape
    k = min(receivers.shape[1], n)
    if k == 0 or batch == 0:
        return counts.copy()
    donor = weight / np.maximum(counts - 1, 1)
    donor[counts <= 1] = np.inf
    offsets = np.arange(0, batch * n, n)[:, None]
    donor[np.arange(batch)[:, None], receivers] = np.inf        # (a flat view would be a copy for strided loads)
    finite = np.isfinite(donor)
    top = np.where(finite, donor, 0.0).max(1, keepdims=True)
    rank = np.where(finite, np.where(top > 0, 2 * top - donor, 1.0), 0.0)   # >= 0, the cheapest donor largest
    pick = order_desc(rank)[:, :k]
    able = np.take_along_axis(finite, pick, 1)                         # donors first, then the missing ones
    gain = np.bincount((receivers[:, :k] + offsets)[able], minlength=batch * n)
    gain -= np.bincount((pick + offsets)[able], minlength=batch * n)
    return counts + gain.reshape(batch, n)


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


def replica_loads(weight: torch.Tensor, logcnt: torch.Tensor, expert_of_item: torch.Tensor) -> torch.Tensor:
    """Load carried by each replica (an expert's load split evenly over its replicas)."""
    return (weight.double() / logcnt.clamp(min=1).double()).gather(1, expert_of_item)
