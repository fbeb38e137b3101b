"""Packers: put ``n`` weighted items into ``m`` packs of exactly ``n // m`` items each.

Every packer takes ``weights [B, n]`` (one independent problem per row) and
returns ``pack_of_item [B, n]`` int64.
"""
from __future__ import annotations

import torch


def _capacity(weights: torch.Tensor, num_packs: int) -> int:
    if weights.dim() != 2:
        raise ValueError(f"weights must be [batch, items], got shape {tuple(weights.shape)}")
    items = weights.shape[1]
    if num_packs <= 0 or items % num_packs:
        raise ValueError(f"{items} items cannot fill {num_packs} packs equally")
    return items // num_packs


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


def _identity(weights: torch.Tensor) -> torch.Tensor:
    batch, items = weights.shape
    return torch.arange(items).expand(batch, items).clone()


def pack_snake(weights: torch.Tensor, num_packs: int) -> torch.Tensor:
    """Serpentine dealing: sort descending, deal packs 0..m-1, then m-1..0, and so on.

    Fully vectorised (no loop). With one item per pack the identity packing is returned.

    >>> pack_snake(torch.tensor([[1.0, 6.0, 3.0, 5.0, 4.0, 2.0]]), 2).tolist()
    [[1, 0, 0, 1, 1, 0]]
    """
    capacity = _capacity(weights, num_packs)
    batch, items = weights.shape
    if capacity == 1:
        return _identity(weights)
    order = torch.sort(weights.double(), dim=1, descending=True, stable=True).indices
    rank = torch.arange(items)
    lap, pos = rank // num_packs, rank % num_packs
    pack_of_rank = torch.where(lap % 2 == 0, pos, num_packs - 1 - pos)
    pack = torch.empty(batch, items, dtype=torch.int64)
    pack.scatter_(1, order, pack_of_rank.expand(batch, items).contiguous())
    return pack


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


def pack_lookahead(weights: torch.Tensor, num_packs: int, width: int = 2,
                   depth: int | None = None) -> torch.Tensor:
    """LPT with lookahead (a pilot method).

    Heaviest item first. The ``width`` lightest packs with room are candidates;
    for each, the item is placed tentatively, the next ``depth`` items (all the
    remaining ones when ``depth`` is None) are then placed by the LPT rule, and
    the candidate with the smallest resulting maximum pack load wins; ties go to
    the plain LPT choice. Vectorised over rows and candidates.

    * ``depth=None`` never ends with a larger maximum load than :func:`pack_lpt`
      on any row (the LPT choice's rollout is the current LPT completion, so the
      best rollout can only improve step by step), but costs ``~n²/2`` steps.
    * ``depth=1`` (score after placing just the next item) provably equals
      :func:`pack_lpt`: putting the heavier item on the lighter pack is never
      worse after two placements. ``width=1`` is :func:`pack_lpt` too.
    * Small depths in between are cheaper but may end worse than LPT on some rows.

    >>> pack_lookahead(torch.tensor([[5.0, 4.0, 3.0, 2.0]]), 2).tolist()
    [[0, 1, 1, 0]]
    """
    capacity = _capacity(weights, num_packs)
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be at least 1 (or None for a full rollout), got {depth}")
    batch, items = weights.shape
    if capacity == 1:
        return _identity(weights)
    width = min(width, num_packs)
    w = weights.double()
    order = torch.sort(w, dim=1, descending=True, stable=True).indices
    w_ord = w.gather(1, order)
    load = torch.zeros(batch, num_packs, dtype=torch.float64)
    room = torch.full((batch, num_packs), capacity, dtype=torch.int64)
    pack = torch.empty(batch, items, dtype=torch.int64)
    rows = torch.arange(batch)
    inf = torch.tensor(float("inf"), dtype=torch.float64)
    packs = torch.arange(num_packs)
    minus_one = torch.full((batch, width, 1), -1, dtype=torch.int64)
    for step in range(items):
        item = order[:, step]
        open_load = torch.where(room > 0, load, inf)
        if width == 1 or step == items - 1:
            target = open_load.argmin(dim=1)
        else:
            cand = torch.sort(open_load, dim=1, stable=True).indices[:, :width]           # [B, W]
            valid = open_load.gather(1, cand) < inf
            hit = cand.unsqueeze(-1) == packs                                             # [B, W, m]
            trial = load.unsqueeze(1) + hit * w_ord[:, step, None, None]
            trial_room = room.unsqueeze(1) - hit.long()
            stop = items if depth is None else min(items, step + 1 + depth)
            for nxt in range(step + 1, stop):
                dest = torch.where(trial_room > 0, trial, inf).argmin(dim=-1, keepdim=True)  # [B, W, 1]
                trial.scatter_add_(2, dest, w_ord[:, nxt, None, None].expand(batch, width, 1))
                trial_room.scatter_add_(2, dest, minus_one)
            score = torch.where(valid, trial.amax(dim=-1), inf)
            target = cand.gather(1, score.argmin(dim=1, keepdim=True)).squeeze(1)
        pack[rows, item] = target
        load[rows, target] += w_ord[:, step]
        room[rows, target] -= 1
    return pack
