"""Repairs: turn any 0/1 vector (a sampler state, a crossover child) into a maximal independent set.

Every repair has the signature ``f(indptr, indices, x) -> np.ndarray``: ``x``
is a vector ``[n]`` (bool, 0/1 int or float; entries above 0.5 count as chosen)
that may hold edges inside the set. Each returns ``repaired_mask [n]`` (bool):
independent, and maximal (no vertex can be added). Vectorised: each round
treats every vertex at once, like Luby's algorithm.
"""
import numpy as np

from heubase.mis.graph import degrees, neighbour_max, tightness


def _tie_break(n: int) -> np.ndarray:
    """Distinct tiny values in [0, 1e-6) that break ties without a random generator."""
    return (np.arange(n) * 0.6180339887 % 1.0) * 1e-6


def fill_maximal(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Add free vertices (no neighbour in the set), those with fewest free neighbours first, until maximal.

    ``mask`` must already be independent (this is no repair). Returns ``filled_mask [n]``.
    """
    mask = np.asarray(mask, dtype=bool).copy()
    n = len(indptr) - 1
    tie = _tie_break(n)
    while True:
        free = ~mask & (tightness(indptr, indices, mask) == 0)
        if not free.any():
            return mask
        key = np.where(free, -(tightness(indptr, indices, free) + tie), -np.inf)
        mask |= free & (key > neighbour_max(indptr, indices, key, -np.inf))


def greedy_repair(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray, degree_weight: float = 0.01) -> np.ndarray:
    """Drop the most-conflicted chosen vertices until independent, then fill to a maximal set.

    A chosen vertex with neighbours in the set is dropped when its conflict
    count (plus ``degree_weight`` x degree) is the largest among its conflicted
    neighbours. Returns ``repaired_mask [n]``.

    >>> triangle = (np.array([0, 2, 4, 6]), np.array([1, 2, 0, 2, 0, 1]))
    >>> int(greedy_repair(*triangle, np.ones(3)).sum())
    1
    """
    mask = np.asarray(x) > 0.5
    n = len(indptr) - 1
    bias = degree_weight * degrees(indptr) + _tie_break(n)
    while True:
        tight = tightness(indptr, indices, mask)
        conflicted = mask & (tight > 0)
        if not conflicted.any():
            return fill_maximal(indptr, indices, mask)
        key = np.where(conflicted, tight + bias, -np.inf)
        mask &= ~(conflicted & (key >= neighbour_max(indptr, indices, key, -np.inf)))


def low_degree_repair(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Keep chosen vertices in order of increasing degree (each kept if no kept neighbour), then fill.

    Returns ``repaired_mask [n]``.
    """
    chosen = np.flatnonzero(np.asarray(x) > 0.5)
    deg = degrees(indptr)
    keep = np.zeros(len(indptr) - 1, dtype=bool)
    blocked = np.zeros_like(keep)
    for v in chosen[np.argsort(deg[chosen], kind="stable")]:
        if not blocked[v]:
            keep[v] = True
            blocked[indices[indptr[v]:indptr[v + 1]]] = True
    return fill_maximal(indptr, indices, keep)
