"""Replication: how many slots each expert gets (every expert gets at least one)."""
from __future__ import annotations

import torch


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
    share, and moderately hot experts get copies too. No loop. Returns
    ``logcnt [L, E]`` int64 summing to ``num_slots`` in every layer.

    >>> replicate_proportional(torch.tensor([[5.0, 1.0, 2.0, 0.0]]), 8).tolist()   # quotas 2.5, 0.5, 1, 0
    [[4, 1, 2, 1]]
    """
    extra = _check(weight, num_slots)
    layers, experts = weight.shape
    share = weight.double().nan_to_num(0.0, posinf=1e300, neginf=0.0).clamp(min=0)
    share = share / share.amax(1, keepdim=True).clamp(min=1e-300)           # scale first: no overflow in **
    share = share ** float(power) if power != 1.0 else share
    total = share.sum(1, keepdim=True)
    share = torch.where(total > 0, share / total.clamp(min=1e-300), torch.full_like(share, 1.0 / max(experts, 1)))
    quota = share * extra
    whole = torch.floor(quota).clamp_(max=extra)
    left = extra - whole.sum(1, keepdim=True)
    by_remainder = torch.argsort(quota - whole, dim=1, descending=True, stable=True)
    whole.scatter_add_(1, by_remainder, (torch.arange(experts) < left).double())
    return whole.long() + 1


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
