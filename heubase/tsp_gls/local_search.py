"""Descent to a local optimum with vectorised 2-opt and or-opt moves (neighbour lists)."""
from __future__ import annotations

import time

import numpy as np

from heubase.tsp_gls.moves import apply_move, best_or_opt, best_two_opt, segments_around
from heubase.tsp_gls.tours import neighbour_lists, tour_positions

EPS = 1e-9


def _or_slots(pos: np.ndarray, tour: np.ndarray, neighbours: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Insertion edges near a segment's first city: the edges just before and just after each neighbour."""
    p = pos[neighbours[tour[first % len(tour)]]]
    return np.concatenate([p, p - 1], axis=1)


def two_opt(distance: np.ndarray, tour: np.ndarray, neighbours: np.ndarray | None = None,
            deadline: float | None = None, max_moves: int = 100000) -> np.ndarray:
    """2-opt descent: apply the best improving 2-opt move among neighbour-list candidates until none is left.

    Returns the improved ``tour [n]`` (a new array). Stops early at ``deadline`` (``time.perf_counter()``
    seconds) or after ``max_moves`` moves.
    """
    return local_search(distance, tour, neighbours, deadline, max_moves, or_opt_length=0)


def local_search(distance: np.ndarray, tour: np.ndarray, neighbours: np.ndarray | None = None,
                 deadline: float | None = None, max_moves: int = 100000, or_opt_length: int = 3) -> np.ndarray:
    """Best-improvement descent with 2-opt and or-opt (segments of up to ``or_opt_length`` cities, either
    direction) over the ``neighbours [n, k]`` lists (10 nearest when None).

    Returns the locally optimal ``tour [n]`` (a new array), or the best so far at ``deadline``.
    """
    tour = np.asarray(tour, dtype=np.int64).copy()
    n = len(tour)
    if n < 4:
        return tour
    if neighbours is None:
        neighbours = neighbour_lists(distance, 10)
    cities = np.arange(n)
    if or_opt_length > 0:
        lengths = np.repeat(np.arange(1, or_opt_length + 1), n)
        starts = np.tile(cities, or_opt_length)
    for _ in range(max_moves):
        if deadline is not None and time.perf_counter() > deadline:
            break
        pos = tour_positions(tour)
        delta, move = best_two_opt(distance, tour, pos, cities, neighbours)
        if or_opt_length > 0:
            d2, m2 = best_or_opt(distance, tour, pos, starts, lengths, _or_slots(pos, tour, neighbours, starts))
            if d2 < delta:
                delta, move = d2, m2
        if move is None or delta > -EPS:
            break
        tour = apply_move(tour, move)
    return tour


def focused_move(distance: np.ndarray, tour: np.ndarray, cities: np.ndarray, or_opt_length: int = 3) -> np.ndarray | None:
    """One best improving 2-opt or or-opt move that involves one of ``cities`` (partners: every city).

    Used by GLS after penalising an edge, on the augmented costs. Returns the new ``tour [n]``, or None
    when no move touching those cities improves.
    """
    n = len(tour)
    if n < 4:
        return None
    cities = np.asarray(cities, dtype=np.int64)
    pos = tour_positions(tour)
    partners = np.broadcast_to(np.arange(n), (len(cities), n))
    delta, move = best_two_opt(distance, tour, pos, cities, partners)
    if or_opt_length > 0 and n >= 5:
        starts, lengths = segments_around(pos, cities, or_opt_length)
        slots = np.broadcast_to(np.arange(n), (len(starts), n))
        d2, m2 = best_or_opt(distance, tour, pos, starts, lengths, slots)
        if d2 < delta:
            delta, move = d2, m2
    if move is None or delta > -EPS:
        return None
    return apply_move(tour, move)
