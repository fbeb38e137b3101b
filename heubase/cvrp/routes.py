"""Route utilities: distances, costs, neighbour lists, feasibility and conversions between representations.

A solution is ``routes``: a list of lists of customer ids (the depot 0 left
out); its cost is the Euclidean length of every route closed at the depot.
"""
from __future__ import annotations

import numpy as np


def distance_matrix(coords: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix ``dist [n+1, n+1]`` of the points ``coords [n+1, 2]`` (row 0 the depot).

    >>> float(distance_matrix(np.array([[0.0, 0.0], [3.0, 4.0]]))[0, 1])
    5.0
    """
    pts = np.asarray(coords, dtype=np.float64)
    diff = pts[:, None, :] - pts[None, :, :]
    return np.sqrt((diff * diff).sum(axis=2))


def route_cost(route: list, dist: np.ndarray) -> float:
    """Length of one route closed at the depot: depot -> route[0] -> ... -> route[-1] -> depot.

    >>> route_cost([1], np.array([[0.0, 2.0], [2.0, 0.0]]))
    4.0
    """
    if len(route) == 0:
        return 0.0
    path = np.concatenate(([0], np.asarray(route, dtype=np.int64), [0]))
    return float(dist[path[:-1], path[1:]].sum())


def solution_cost(routes: list, dist: np.ndarray) -> float:
    """Total length of all routes (each closed at the depot)."""
    return float(sum(route_cost(r, dist) for r in routes))


def nearest_neighbours(dist: np.ndarray, k: int = 20) -> np.ndarray:
    """``neighbours [n+1, k]``: for each customer its ``k`` nearest other customers, nearest first (row 0 unused)."""
    n = dist.shape[0] - 1
    k = max(1, min(int(k), n - 1)) if n > 1 else 1
    d = np.array(dist, dtype=np.float64, copy=True)
    d[:, 0] = np.inf
    np.fill_diagonal(d, np.inf)
    if n <= 1:
        return np.zeros((n + 1, 1), dtype=np.int64)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
    out = np.take_along_axis(part, order, axis=1).astype(np.int64)
    out[0] = 0
    return out


def route_loads(routes: list, demands: np.ndarray) -> np.ndarray:
    """Demand carried by each route, ``float [len(routes)]``."""
    return np.array([float(np.sum(demands[np.asarray(r, dtype=np.int64)])) if len(r) else 0.0 for r in routes])


def is_feasible(routes: list, demands: np.ndarray, capacity: float) -> bool:
    """True when every customer ``1..n`` is in exactly one route and no route exceeds ``capacity``."""
    n = len(demands) - 1
    flat = [int(c) for r in routes for c in r]
    if sorted(flat) != list(range(1, n + 1)):
        return False
    return bool(np.all(route_loads(routes, demands) <= capacity + 1e-9))


def giant_tour_of(routes: list) -> np.ndarray:
    """Concatenate the routes into one giant tour ``[n]`` (int64), the input of :func:`split_routes`."""
    parts = [np.asarray(r, dtype=np.int64) for r in routes if len(r)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def routes_to_array(routes: list) -> np.ndarray:
    """Flat ``int64`` array of the routes with the depot 0 between them: ``[0, r1..., 0, r2..., 0]``."""
    out = [0]
    for r in routes:
        if len(r):
            out.extend(int(c) for c in r)
            out.append(0)
    return np.asarray(out, dtype=np.int64)


def array_to_routes(flat: np.ndarray) -> list:
    """Inverse of :func:`routes_to_array`: split a depot-delimited array into routes (empty routes dropped)."""
    routes, current = [], []
    for c in np.asarray(flat).tolist():
        if int(c) == 0:
            if current:
                routes.append(current)
            current = []
        else:
            current.append(int(c))
    if current:
        routes.append(current)
    return routes
