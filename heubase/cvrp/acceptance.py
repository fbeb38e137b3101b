"""Acceptance criteria of an iterated local search: should the search move to the new solution?

All share ``f(candidate_cost, current_cost, best_cost, progress, rng) -> bool``;
``progress`` is the elapsed fraction of the time budget, in ``[0, 1]``.
"""
from __future__ import annotations

import math

import numpy as np


def accept_improving(candidate_cost: float, current_cost: float, best_cost: float, progress: float,
                     rng: np.random.Generator) -> bool:
    """Accept only a candidate better than the current solution. Returns ``accept`` (bool)."""
    return candidate_cost < current_cost - 1e-9


def accept_record_to_record(candidate_cost: float, current_cost: float, best_cost: float, progress: float,
                            rng: np.random.Generator, threshold: float = 0.01) -> bool:
    """Record-to-record travel: accept a candidate within ``threshold · (1 - progress)`` (relative) of the best.

    Returns ``accept`` (bool); the allowed deterioration shrinks linearly to zero.
    """
    return candidate_cost < best_cost * (1.0 + threshold * (1.0 - progress)) - 1e-9


def accept_annealing(candidate_cost: float, current_cost: float, best_cost: float, progress: float,
                     rng: np.random.Generator, start_temperature: float = 0.005) -> bool:
    """Simulated annealing on the relative change, temperature cooling linearly from ``start_temperature`` to 0.

    Returns ``accept`` (bool): always for an improvement, else with probability
    ``exp(-(candidate - current) / (current · T))``.
    """
    if candidate_cost < current_cost - 1e-9:
        return True
    temperature = start_temperature * max(0.0, 1.0 - progress)
    if temperature <= 0.0 or current_cost <= 0.0:
        return False
    return bool(rng.random() < math.exp(-(candidate_cost - current_cost) / (current_cost * temperature)))
