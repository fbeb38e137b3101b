"""Portfolios: several different packings of the same items, for multi-start selection."""
from __future__ import annotations

import time
from typing import Optional

import torch

from heubase.eplb.pack import pack_karmarkar_karp, pack_lpt, pack_snake
from heubase.eplb.plan import pack_loads


def pack_portfolio(weights: torch.Tensor, num_packs: int, num_starts: int = 4,
                   deadline: Optional[float] = None, noise: float = 0.02, seed: int = 0) -> list[torch.Tensor]:
    """Up to ``num_starts`` packings ``[B, n]``: LPT, Karmarkar–Karp, snake, then LPT on perturbed loads.

    (The full-rollout lookahead packer is left out: it costs seconds per call on 64-GPU shapes.)

    Stops early once ``time.perf_counter() >= deadline`` (always returns at least the LPT packing).
    The perturbation multiplies loads by ``1 + noise * N(0, 1)`` from a fixed ``seed``.
    """
    makers = [pack_lpt, pack_karmarkar_karp, pack_snake]
    result: list[torch.Tensor] = []
    generator = torch.Generator().manual_seed(seed)
    for k in range(max(1, int(num_starts))):
        if result and deadline is not None and time.perf_counter() >= deadline:
            break
        if k < len(makers):
            result.append(makers[k](weights, num_packs))
        else:
            jitter = 1.0 + noise * torch.randn(weights.shape, generator=generator, dtype=torch.float64)
            result.append(pack_lpt(weights.double() * jitter.clamp(min=0.5), num_packs))
    return result


def best_packing(weights: torch.Tensor, packings: list[torch.Tensor], num_packs: int) -> torch.Tensor:
    """Per row, the packing among ``packings`` with the lightest heaviest pack (first one on ties)."""
    if not packings:
        raise ValueError("no packings to choose from")
    peaks = torch.stack([pack_loads(weights.double(), p, num_packs).max(dim=1).values for p in packings])
    choice = peaks.argmin(dim=0)
    stacked = torch.stack(packings)
    return stacked[choice, torch.arange(weights.shape[0])]


def pack_best_of(weights: torch.Tensor, num_packs: int, num_starts: int = 4,
                 deadline: Optional[float] = None) -> torch.Tensor:
    """Packer: the per-row best of :func:`pack_portfolio` (never worse than LPT on the given loads).

    Returns ``pack_of_item [B, n]`` int64.
    """
    return best_packing(weights, pack_portfolio(weights, num_packs, num_starts, deadline), num_packs)
