"""Guided local search (Voudouris & Tsang) for the TSP, in the setting of ReEvo / EoH / BEAM.

Start from a nearest-neighbour tour and descend to a local optimum. Then repeat,
up to ``iter_limit`` times or until the time limit: *perturb* by penalising the
tour edge of highest utility (``utility(guide, penalty)``, by default
``guide / (1 + penalty)``) and making one improving move around its endpoints
on the augmented costs ``distance + lam * penalty``, until ``perturbation_moves``
such moves have been made; then descend again on the true distances and keep
the best tour seen. ``lam = lambda_factor * (first local optimum's length) / n``.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from heubase.tsp_gls.construct import nearest_neighbour_tour
from heubase.tsp_gls.local_search import focused_move, local_search
from heubase.tsp_gls.tours import neighbour_lists, tour_length
from heubase.tsp_gls.utilities import classic_utility

SAFETY = 0.05  # share of the time limit kept back for returning the tour


def checked_utility(values: object, m: int) -> np.ndarray:
    """``values`` as a finite float64 ``utility [m]``; ValueError naming what is wrong otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (m,):
        raise ValueError(f"the utility must have shape ({m},), one value per tour edge, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the utility has NaN or infinite values")
    return arr


def checked_guide(values: object, n: int) -> np.ndarray:
    """``values`` as a finite, non-negative float64 ``guide [n, n]``; ValueError naming what is wrong otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n, n):
        raise ValueError(f"the guide must have shape ({n}, {n}) like the distance matrix, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the guide has NaN or infinite values")
    return arr


def guided_local_search(distance: np.ndarray, guide: np.ndarray, time_limit_s: float, seed: int = 0, *,
                        utility: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                        perturbation_moves: int = 30, iter_limit: int = 1200, lambda_factor: float = 0.1,
                        neighbours: int = 10) -> np.ndarray:
    """GLS host: returns the best ``tour [n]`` found within ``time_limit_s`` seconds (or ``iter_limit`` rounds).

    ``guide [n, n]`` is the utility numerator (the distance for classic GLS); ``utility(edge_guide,
    edge_penalty) -> utility [m]`` scores the tour's edges for penalising (classic: ``guide / (1 + penalty)``);
    ``seed`` picks the start city. Raises ValueError for a guide or utility of the wrong shape or non-finite.
    """
    start = time.perf_counter()
    deadline = start + max(0.0, time_limit_s) * (1.0 - SAFETY)
    distance = np.asarray(distance, dtype=np.float64)
    n = len(distance)
    if n < 4:
        return np.arange(n, dtype=np.int64)
    guide = checked_guide(guide, n)
    score = utility or classic_utility
    near = neighbour_lists(distance, neighbours)
    tour = local_search(distance, nearest_neighbour_tour(distance, seed % n), near, deadline)
    best, best_len = tour.copy(), tour_length(distance, tour)
    lam = lambda_factor * best_len / n
    penalty = np.zeros((n, n), dtype=np.float64)
    augmented = distance.copy()
    for _ in range(int(iter_limit)):
        if time.perf_counter() > deadline:
            break
        moves = attempts = 0
        while moves < perturbation_moves and attempts < 10 * perturbation_moves:
            attempts += 1
            u, v = tour, np.roll(tour, -1)
            k = int(np.argmax(checked_utility(score(guide[u, v], penalty[u, v]), n)))
            a, b = int(u[k]), int(v[k])
            penalty[a, b] += 1.0
            penalty[b, a] = penalty[a, b]
            augmented[a, b] = augmented[b, a] = distance[a, b] + lam * penalty[a, b]
            moved = focused_move(augmented, tour, np.array([a, b]))
            if moved is not None:
                tour, moves = moved, moves + 1
            if attempts % 8 == 0 and time.perf_counter() > deadline:
                break
        tour = local_search(distance, tour, near, deadline)
        length = tour_length(distance, tour)
        if length < best_len - 1e-12:
            best, best_len = tour.copy(), length
    return best
