"""Refiners: improve a packing by exchanging items between packs.

Every refiner takes ``(weights [B, n], pack_of_item [B, n], num_packs)`` plus
keyword tuning arguments, and returns a new ``pack_of_item`` (inputs are never
modified). Exchanges are always item-for-item, so every pack keeps its item
count, and a swap is applied only when it strictly lowers the larger of the two
loads it touches, so no row's maximum pack load ever increases.

Loads are computed in float64. A swap must improve by more than a tiny tolerance
(a few ulps of the row's total weight) so that float rounding can never turn an
"improvement" into a regression. Internally packs are held as ``[B, m, c]``
tables of item ids and weights (``c = n / m``), which makes exchanges cheap. A
row with no improving exchange makes a no-op exchange (its state, hence its
answer, no longer changes); the loop ends early once no row improves.
"""
from __future__ import annotations

import torch

from heubase.eplb.plan import pack_sizes


def _table(weights: torch.Tensor, pack_of_item: torch.Tensor,
           num_packs: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(item ids [B, m, c], their weights [B, m, c] float64, tolerance [B])``."""
    if weights.dim() != 2 or weights.shape != pack_of_item.shape:
        raise ValueError(f"weights {tuple(weights.shape)} and packing {tuple(pack_of_item.shape)} "
                         "must be equal [batch, items] shapes")
    batch, items = weights.shape
    if num_packs <= 0 or items % num_packs:
        raise ValueError(f"{items} items cannot fill {num_packs} packs equally")
    capacity = items // num_packs
    packs = pack_of_item.long()
    if batch and bool((pack_sizes(packs, num_packs) != capacity).any()):
        raise ValueError(f"every pack must hold exactly {capacity} items")
    ids = torch.arange(items).expand(batch, items)
    table = torch.argsort(packs * items + ids, dim=1).view(batch, num_packs, capacity)
    w = weights.double()
    table_w = w.gather(1, table.view(batch, items)).view(batch, num_packs, capacity)
    tol = w.abs().sum(1) * (4 * items * torch.finfo(torch.float64).eps)
    return table, table_w, tol


def _untable(table: torch.Tensor) -> torch.Tensor:
    batch, packs, capacity = table.shape
    pack_ids = torch.arange(packs).repeat_interleave(capacity).expand(batch, -1)
    out = torch.empty(batch, packs * capacity, dtype=torch.int64)
    return out.scatter_(1, table.reshape(batch, -1), pack_ids)


def _exchange(table: torch.Tensor, table_w: torch.Tensor, here: torch.Tensor, there: torch.Tensor) -> None:
    """Per row, move the entries at flat positions ``there`` to ``here`` and back, in place.

    ``here`` and ``there`` are ``[B, k]`` positions into the flattened ``[B, m * c]``
    tables; a row whose positions coincide is left unchanged.
    """
    batch = table.shape[0]
    pos, src = torch.cat((here, there), 1), torch.cat((there, here), 1)
    for t in (table.view(batch, -1), table_w.view(batch, -1)):
        t.scatter_(1, pos, t.gather(1, src))


def _trivial(weights: torch.Tensor, num_packs: int) -> bool:
    return num_packs == 1 or weights.shape[1] == num_packs or weights.shape[0] == 0


def swap_max_min(weights: torch.Tensor, pack_of_item: torch.Tensor, num_packs: int,
                 rounds: int = 16) -> torch.Tensor:
    """1-for-1 swaps between the heaviest and the lightest pack.

    Each round, per row, every pair (item ``i`` of the heaviest pack, item ``j``
    of the lightest) is scored at once; the swap minimising the larger of the two
    new loads is applied if that is strictly below the heaviest load. With gap
    ``g = L_max − L_min`` and ``d = w_i − w_j``, the new larger load is
    ``L_max − (g/2 − |d − g/2|)``, so the best swap is the ``d`` closest to ``g/2``.

    >>> w = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    >>> swap_max_min(w, torch.tensor([[0, 0, 1, 1]]), 2).tolist()
    [[1, 0, 0, 1]]
    """
    table, table_w, tol = _table(weights, pack_of_item, num_packs)
    if _trivial(weights, num_packs):
        return pack_of_item.long().clone()
    batch, _, capacity = table.shape
    rows = torch.arange(batch)
    for _ in range(rounds):
        load = table_w.sum(2)
        hi_load, hi = load.max(1)
        lo_load, lo = load.min(1)
        half = (hi_load - lo_load).mul_(0.5)
        target = table_w[rows, lo] + half.unsqueeze(1)
        dist = (table_w[rows, hi].unsqueeze(2) - target.unsqueeze(1)).abs_()
        best, flat = dist.view(batch, -1).min(1)
        ok = (half - best) > tol
        if not bool(ok.any()):
            break
        here = hi * capacity + torch.div(flat, capacity, rounding_mode="floor")
        there = torch.where(ok, lo * capacity + flat % capacity, here)
        _exchange(table, table_w, here.unsqueeze(1), there.unsqueeze(1))
    return _untable(table)


def swap_all_pairs(weights: torch.Tensor, pack_of_item: torch.Tensor, num_packs: int,
                   rounds: int = 16) -> torch.Tensor:
    """1-for-1 swaps between any two packs, one swap per row per round.

    For a swap of item ``i`` (pack ``a``) with item ``j`` (pack ``b``) the *gain*
    is the drop of ``max(L_a, L_b)``. Rule, per row and round: among all item
    pairs in different packs with positive gain, if some involve the current
    heaviest pack take the one of those with the largest gain (it lowers the
    heaviest load the most); otherwise take the largest gain overall. A positive
    gain means ``d = w_i − w_j`` lies strictly between 0 and ``L_a − L_b``, so the
    swap strictly lowers the row's sum of squared loads and never raises its
    maximum; a row stops when no swap has positive gain.

    Costs about ``(m c)² / 2`` pair evaluations per row and round, the most of
    the refiners here.
    """
    table, table_w, tol = _table(weights, pack_of_item, num_packs)
    if _trivial(weights, num_packs):
        return pack_of_item.long().clone()
    batch, _, capacity = table.shape
    pair_a, pair_b = torch.triu_indices(num_packs, num_packs, offset=1)
    num_pairs = pair_a.numel()
    rows = torch.arange(batch)
    ninf = torch.tensor(float("-inf"), dtype=torch.float64)
    for _ in range(rounds):
        load = table_w.sum(2)
        hi = load.argmax(1, keepdim=True)
        half = (load.index_select(1, pair_a) - load.index_select(1, pair_b)).mul_(0.5)      # [B, P]
        target = table_w.index_select(1, pair_b) + half.unsqueeze(2)
        dist = (table_w.index_select(1, pair_a).unsqueeze(3) - target.unsqueeze(2)).abs_()  # [B, P, c, c]
        dist = dist.view(batch, num_pairs, capacity * capacity)
        gain = half.abs() - dist.amin(2)
        valid = gain > tol.unsqueeze(1)
        ok = valid.any(1)
        if not bool(ok.any()):
            break
        on_hi = valid & ((pair_a == hi) | (pair_b == hi))
        allowed = torch.where(on_hi.any(1, keepdim=True), on_hi, valid)
        pick = torch.where(allowed, gain, ninf).argmax(1)
        flat = dist[rows, pick].argmin(1)
        here = pair_a[pick] * capacity + torch.div(flat, capacity, rounding_mode="floor")
        there = torch.where(ok, pair_b[pick] * capacity + flat % capacity, here)
        _exchange(table, table_w, here.unsqueeze(1), there.unsqueeze(1))
    return _untable(table)


def swap_pairs(weights: torch.Tensor, pack_of_item: torch.Tensor, num_packs: int,
               rounds: int = 8) -> torch.Tensor:
    """2-for-2 exchanges between the heaviest and the lightest pack.

    A GPU has a fixed number of expert slots, so every pack must keep exactly
    ``n / m`` items: moving two items one way and one back (2-for-1) would leave
    one pack a slot short and the other a slot over, which no plan can realise.
    Exchanging a pair for a pair is the cardinality-preserving form of the
    multi-item move. Each round, per row, all pairs from the heaviest pack are
    scored against all pairs from the lightest at once; the exchange minimising
    the larger resulting load is applied if that is strictly below the heaviest
    load. It finds moves that 1-for-1 swaps miss (below, loads 32/30 and no single
    swap helps); with three items per pack a 2-for-2 exchange equals a 1-for-1
    swap of the complements, so it only adds power from four items per pack on.

    >>> w = torch.tensor([[11.0, 10.0, 7.0, 4.0, 11.0, 7.0, 7.0, 5.0]])
    >>> swap_max_min(w, torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]]), 2).tolist()
    [[0, 0, 0, 0, 1, 1, 1, 1]]
    >>> swap_pairs(w, torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]]), 2).tolist()
    [[1, 0, 0, 1, 1, 0, 0, 1]]
    """
    table, table_w, tol = _table(weights, pack_of_item, num_packs)
    batch, _, capacity = table.shape
    if _trivial(weights, num_packs) or capacity < 2:
        return pack_of_item.long().clone()
    first, second = torch.triu_indices(capacity, capacity, offset=1)
    both = torch.stack((first, second))                                                  # [2, P]
    rows = torch.arange(batch)
    for _ in range(rounds):
        load = table_w.sum(2)
        hi_load, hi = load.max(1)
        lo_load, lo = load.min(1)
        half = (hi_load - lo_load).mul_(0.5)
        w_hi, w_lo = table_w[rows, hi], table_w[rows, lo]
        pair_hi = w_hi[:, first] + w_hi[:, second]                                        # [B, P]
        pair_lo = w_lo[:, first] + w_lo[:, second] + half.unsqueeze(1)
        dist = (pair_hi.unsqueeze(2) - pair_lo.unsqueeze(1)).abs_()                        # [B, P, P]
        best_per_hi = dist.amin(2)
        best, pick_hi = best_per_hi.min(1)
        ok = (half - best) > tol
        if not bool(ok.any()):
            break
        pick_lo = dist[rows, pick_hi].argmin(1)
        here = hi.unsqueeze(1) * capacity + both[:, pick_hi].T
        there = torch.where(ok.unsqueeze(1), lo.unsqueeze(1) * capacity + both[:, pick_lo].T, here)
        _exchange(table, table_w, here, there)
    return _untable(table)
