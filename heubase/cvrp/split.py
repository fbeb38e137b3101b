"""Prins' split: cut a giant tour into the optimal sequence of capacity-feasible routes.

The giant tour fixes the order of visits; split chooses where to return to the
depot. It is a shortest path on the DAG whose arc ``i -> j`` is the route
serving tour positions ``i..j-1``: O(n·B) for routes of at most B customers,
each step vectorised over the feasible route starts.
"""
from __future__ import annotations

import numpy as np


def split_routes(giant_tour: np.ndarray, dist: np.ndarray, demands: np.ndarray, capacity: float) -> list:
    """Optimal routes for the visiting order ``giant_tour`` (unlimited fleet): Prins' split.

    Returns ``routes``: a list of lists of customer ids, consecutive pieces of
    the giant tour, each of demand ``<= capacity``, of least total length among
    all such cuttings of this order.

    >>> d = np.array([[0, 1, 1, 2], [1, 0, 1, 2], [1, 1, 0, 1], [2, 2, 1, 0]], dtype=float)
    >>> split_routes(np.array([1, 2, 3]), d, np.array([0, 1, 1, 1]), 2)
    [[1], [2, 3]]
    """
    tour = np.asarray(giant_tour, dtype=np.int64)
    n = tour.size
    if n == 0:
        return []
    dem = np.asarray(demands, dtype=np.float64)[tour]
    if np.any(dem > capacity + 1e-9):
        raise ValueError("a customer's demand exceeds the vehicle capacity")
    depot = dist[0, tour]
    along = np.concatenate(([0.0], np.cumsum(dist[tour[:-1], tour[1:]])))  # along[i]: path length t0..ti
    load = np.concatenate(([0.0], np.cumsum(dem)))                          # load[j]: demand of t0..t(j-1)
    starts = np.searchsorted(load, load - capacity - 1e-9, side="left")     # first feasible start per end
    base = depot - along                                                   # start-dependent part of a route cost
    value = np.empty(n + 1)
    value[0] = 0.0
    pred = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        lo = int(starts[j])
        cand = value[lo:j] + base[lo:j]
        k = int(np.argmin(cand))
        value[j] = cand[k] + along[j - 1] + depot[j - 1]
        pred[j] = lo + k
    routes, j = [], n
    while j > 0:
        i = int(pred[j])
        routes.append(tour[i:j].tolist())
        j = i
    routes.reverse()
    return routes
