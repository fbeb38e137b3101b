"""Constructors: giant tours for split (nearest neighbour, sweep, random) and Clarke-Wright savings routes.

Giant-tour constructors share one signature, ``f(coords, dist, rng) -> giant_tour``,
so any of them can fill the same placeholder; ``rng`` makes repeated calls differ
(a random first customer, a random starting angle).
"""
from __future__ import annotations

import numpy as np

from heubase.cvrp.split import split_routes


def nearest_neighbour_tour(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Nearest-neighbour giant tour from a random first customer (the customer nearest the depot on a zero seed).

    Returns ``giant_tour [n]``: a permutation of the customers ``1..n``, each
    followed by the nearest customer not yet visited.
    """
    n = dist.shape[0] - 1
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    seen = np.zeros(n + 1, dtype=bool)
    seen[0] = True
    tour = np.empty(n, dtype=np.int64)
    current = int(rng.integers(1, n + 1))
    for step in range(n):
        tour[step] = current
        seen[current] = True
        if step + 1 < n:
            row = np.where(seen, np.inf, dist[current])
            current = int(np.argmin(row))
    return tour


def sweep_tour(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sweep giant tour: customers by polar angle around the depot, from a random starting angle.

    Returns ``giant_tour [n]``; ties in angle go to the customer nearer the depot.
    Split then cuts the sweep into routes (Gillett-Miller style clusters).
    """
    pts = np.asarray(coords, dtype=np.float64)
    rel = pts[1:] - pts[0]
    angle = np.mod(np.arctan2(rel[:, 1], rel[:, 0]) - rng.uniform(0.0, 2.0 * np.pi), 2.0 * np.pi)
    order = np.lexsort((dist[0, 1:], angle))
    return (order + 1).astype(np.int64)


def random_tour(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random giant tour. Returns ``giant_tour [n]``, a random permutation of ``1..n``."""
    n = dist.shape[0] - 1
    return (rng.permutation(n) + 1).astype(np.int64)


def savings_routes(dist: np.ndarray, demands: np.ndarray, capacity: float, shape: float = 1.0) -> list:
    """Clarke-Wright savings (parallel version). Returns ``initial_routes``: a list of routes.

    Starts from one route per customer and merges route ends ``i``, ``j`` in
    decreasing order of the saving ``d(0,i) + d(0,j) - shape · d(i,j)`` while the
    merged demand fits (routes are reversed when needed so ``i`` and ``j`` meet).
    ``shape`` = 1 is the classic rule; larger values favour compact routes.
    """
    n = dist.shape[0] - 1
    if n == 0:
        return []
    dem = np.asarray(demands, dtype=np.float64)
    iu, ju = np.triu_indices(n, k=1)
    iu, ju = iu + 1, ju + 1
    saving = dist[0, iu] + dist[0, ju] - shape * dist[iu, ju]
    keep = saving > 0
    iu, ju, saving = iu[keep], ju[keep], saving[keep]
    order = np.argsort(-saving, kind="stable")
    route_of = list(range(n + 1))            # route id = id of one member; routes[id] a list
    routes: dict[int, list] = {c: [c] for c in range(1, n + 1)}
    load = {c: float(dem[c]) for c in range(1, n + 1)}
    for i, j in zip(iu[order].tolist(), ju[order].tolist()):
        ri, rj = route_of[i], route_of[j]
        if ri == rj or load[ri] + load[rj] > capacity + 1e-9:
            continue
        a, b = routes[ri], routes[rj]
        if a[-1] == i:
            pass
        elif a[0] == i:
            a.reverse()
        else:
            continue
        if b[0] == j:
            pass
        elif b[-1] == j:
            b.reverse()
        else:
            continue
        a.extend(b)
        load[ri] += load.pop(rj)
        del routes[rj]
        for c in b:
            route_of[c] = ri
    return list(routes.values())


def nearest_neighbour_routes(dist: np.ndarray, demands: np.ndarray, capacity: float,
                             rng: np.random.Generator) -> list:
    """Nearest-neighbour giant tour from a random first customer, cut by Prins' split.

    Returns ``initial_routes``: a list of capacity-feasible routes.
    """
    n = dist.shape[0] - 1
    tour = nearest_neighbour_tour(np.zeros((n + 1, 2)), dist, rng)
    return split_routes(tour, dist, demands, capacity)
