"""Refiners: improve a packing by exchanging items between packs.

Every refiner takes ``(weights [B, n], pack_of_item [B, n], num_packs)`` plus
keyword tuning arguments, and returns a new ``pack_of_item`` (inputs are never
modified). Exchanges are always item-for-item, so every pack keeps its item
count, and a swap is applied only when it strictly lowers the larger of the two
loads it touches, so no row's maximum pack load ever increases.

Loads are computed in float64, summed in a fixed order (a row's answer never
depends on the rest of the batch). A swap must improve by more than a tiny
tolerance (``4 n²`` ulps of the row's largest weight) so that float rounding can
never turn an "improvement" into a regression. Internally packs are held as
rows-last ``[m, c, B]`` tables of item ids and weights (``c = n / m``): exchanges
are cheap and the broadcast scoring runs over long contiguous inner loops. A
row with no improving exchange makes a no-op exchange (its state, hence its
answer, no longer changes); the loop ends early once no row improves.
"""
from __future__ import annotations

import torch

from heubase.eplb.plan import pack_sizes


def _table(weights: torch.Tensor, pack_of_item: torch.Tensor,
           num_packs: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows-last tables ``(item ids [m, c, B], their weights [m, c, B] float64, tolerance [B])``."""
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
    table = torch.argsort(packs * items + ids, dim=1)
    w = weights.double()
    table_w = w.gather(1, table)
    scale = w.abs().amax(1) if items else w.new_zeros(batch)
    tol = scale * (4 * items * items * torch.finfo(torch.float64).eps)
    shape = (num_packs, capacity, batch)
    return table.T.contiguous().view(shape), table_w.T.contiguous().view(shape), tol


def _untable(table: torch.Tensor) -> torch.Tensor:
    packs, capacity, batch = table.shape
    pack_ids = torch.arange(packs).repeat_interleave(capacity).expand(batch, -1)
    out = torch.empty(batch, packs * capacity, dtype=torch.int64)
    return out.scatter_(1, table.view(packs * capacity, batch).T, pack_ids)


def _exchange(table: torch.Tensor, table_w: torch.Tensor, here: torch.Tensor, there: torch.Tensor) -> None:
    """Per row, exchange the entries at flat positions ``here`` and ``there``, in place.

    ``here`` and ``there`` are ``[k, B]`` positions into the ``[m * c, B]`` tables;
    a row whose positions coincide is left unchanged.
    """
    pos, src = torch.cat((here, there)), torch.cat((there, here))
    for t in (table, table_w):
        flat = t.view(-1, t.shape[2])
        flat.scatter_(0, pos, flat.gather(0, src))


def _loads(table_w: torch.Tensor) -> torch.Tensor:
    """``[m, B]`` pack loads, summed in a fixed order so that a row's result never depends on the batch."""
    load = table_w[:, 0].clone()
    for k in range(1, table_w.shape[1]):
        load += table_w[:, k]
    return load


def _pack_items(table_w: torch.Tensor, pack: torch.Tensor) -> torch.Tensor:
    """``[c, B]`` weights of pack ``pack[b]`` in every row ``b``."""
    _, capacity, batch = table_w.shape
    return table_w.gather(0, pack.view(1, 1, batch).expand(1, capacity, batch)).squeeze(0)


def _trivial(weights: torch.Tensor, num_packs: int) -> bool:
    return num_packs == 1 or weights.shape[1] <= num_packs or weights.shape[0] == 0


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
    _, capacity, batch = table.shape
    dist = torch.empty(capacity, capacity, batch, dtype=torch.float64)  # reused: no page faults per round
    for _ in range(rounds):
        load = _loads(table_w)                                                 # [m, B]
        hi_load, hi = load.max(0)
        lo_load, lo = load.min(0)
        half = (hi_load - lo_load).mul_(0.5)
        target = _pack_items(table_w, lo) + half
        torch.sub(_pack_items(table_w, hi).unsqueeze(1), target.unsqueeze(0), out=dist).abs_()  # [c, c, B]
        best, flat = dist.view(capacity * capacity, batch).min(0)
        ok = (half - best) > tol
        if not bool(ok.any()):
            break
        here = hi * capacity + torch.div(flat, capacity, rounding_mode="floor")
        there = torch.where(ok, lo * capacity + flat % capacity, here)
        _exchange(table, table_w, here.unsqueeze(0), there.unsqueeze(0))
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

    The heaviest pack is scored against every pack first (``m c²`` pairs per row);
    only rows where that finds nothing score all ``m(m−1)/2 · c²`` pairs, and
    rows where that finds nothing either are dropped for good.
    """
    table, table_w, tol = _table(weights, pack_of_item, num_packs)
    if _trivial(weights, num_packs):
        return pack_of_item.long().clone()
    _, capacity, batch = table.shape
    pair_a, pair_b = torch.triu_indices(num_packs, num_packs, offset=1)
    ninf = torch.tensor(float("-inf"), dtype=torch.float64)
    cc = capacity * capacity
    alive = torch.arange(batch)
    # scoring buffers, reused across rounds (fresh multi-MB tensors would page-fault every round)
    hi_buffer = torch.empty(num_packs * cc * batch, dtype=torch.float64)
    all_buffer = torch.empty(pair_a.numel() * cc * batch, dtype=torch.float64)
    for _ in range(rounds):
        count = alive.numel()
        if count == 0:
            break
        tw = table_w if count == batch else table_w.index_select(2, alive)     # [m, c, A]
        row_tol = tol if count == batch else tol.index_select(0, alive)
        load = _loads(tw)                                                       # [m, A]
        hi = load.argmax(0)
        # heaviest pack against every pack (itself included: half = 0, never valid)
        half = (load.gather(0, hi.unsqueeze(0)) - load).mul_(0.5)               # [m, A], >= 0
        dist = hi_buffer[:num_packs * cc * count].view(num_packs, capacity, capacity, count)
        torch.sub(_pack_items(tw, hi).view(1, capacity, 1, count), (tw + half.unsqueeze(1)).unsqueeze(1), out=dist)
        dist = dist.abs_().view(num_packs, cc, count)
        gain = half - dist.amin(1)
        valid = gain > row_tol
        has_hi = valid.any(0)
        partner = torch.where(valid, gain, ninf).argmax(0)
        flat = dist.gather(0, partner.view(1, 1, count).expand(1, cc, count)).squeeze(0).argmin(0)
        here = hi * capacity + torch.div(flat, capacity, rounding_mode="floor")
        there = torch.where(has_hi, partner * capacity + flat % capacity, here)
        ok = has_hi
        need = torch.nonzero(~has_hi).squeeze(1)
        if need.numel():
            sub = tw.index_select(2, need)
            sub_load = load.index_select(1, need)
            half = (sub_load[pair_a] - sub_load[pair_b]).mul_(0.5)              # [P, N]
            target = sub[pair_b] + half.unsqueeze(1)
            dist = all_buffer[:pair_a.numel() * cc * need.numel()].view(-1, capacity, capacity, need.numel())
            torch.sub(sub[pair_a].unsqueeze(2), target.unsqueeze(1), out=dist)
            dist = dist.abs_().view(-1, cc, need.numel())
            gain = half.abs_() - dist.amin(1)
            valid = gain > row_tol.index_select(0, need)
            found = valid.any(0)
            pick = torch.where(valid, gain, ninf).argmax(0)
            flat = dist.gather(0, pick.view(1, 1, -1).expand(1, cc, need.numel())).squeeze(0).argmin(0)
            sub_here = pair_a[pick] * capacity + torch.div(flat, capacity, rounding_mode="floor")
            here[need] = sub_here
            there[need] = torch.where(found, pair_b[pick] * capacity + flat % capacity, sub_here)
            ok = ok.clone()
            ok[need] = found
        if count < batch:
            here = torch.zeros(batch, dtype=torch.int64).index_copy_(0, alive, here)
            there = torch.zeros(batch, dtype=torch.int64).index_copy_(0, alive, there)
        _exchange(table, table_w, here.unsqueeze(0), there.unsqueeze(0))
        alive = alive[ok]
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
    _, capacity, batch = table.shape
    if _trivial(weights, num_packs) or capacity < 2:
        return pack_of_item.long().clone()
    first, second = torch.triu_indices(capacity, capacity, offset=1)
    both = torch.stack((first, second))                                         # [2, P]
    num_pairs = first.numel()
    dist = torch.empty(num_pairs, num_pairs, batch, dtype=torch.float64)
    for _ in range(rounds):
        load = _loads(table_w)                                                 # [m, B]
        hi_load, hi = load.max(0)
        lo_load, lo = load.min(0)
        half = (hi_load - lo_load).mul_(0.5)
        w_hi, w_lo = _pack_items(table_w, hi), _pack_items(table_w, lo)          # [c, B]
        pair_hi = w_hi[first] + w_hi[second]                                    # [P, B]
        pair_lo = w_lo[first] + w_lo[second] + half
        torch.sub(pair_hi.unsqueeze(1), pair_lo.unsqueeze(0), out=dist).abs_()  # [P, P, B]
        best, pick_hi = dist.amin(1).min(0)
        ok = (half - best) > tol
        if not bool(ok.any()):
            break
        row_of_hi = dist.gather(0, pick_hi.view(1, 1, batch).expand(1, num_pairs, batch))
        pick_lo = row_of_hi.squeeze(0).argmin(0)
        here = hi * capacity + both[:, pick_hi]                                 # [2, B]
        there = torch.where(ok, lo * capacity + both[:, pick_lo], here)
        _exchange(table, table_w, here, there)
    return _untable(table)
