"""Perturbations: ruin and recreate on routes, and mutations of giant tours (before a new split).

Route perturbations share ``f(routes, dist, demands, capacity, rng) -> perturbed_routes``:
they remove some customers and reinsert each at its cheapest feasible position
(a new route when none fits). Tour mutations share ``f(giant_tour, rng) -> perturbed_tour``.
"""
from __future__ import annotations

import numpy as np

from heubase.cvrp.routes import route_loads


def greedy_insert(routes: list, removed: list, dist: np.ndarray, demands: np.ndarray, capacity: float) -> list:
    """Insert each customer of ``removed`` (in order) at its cheapest capacity-feasible position.

    Returns ``repaired_routes``: ``routes`` with every removed customer back in; a
    customer that fits in no route opens a new one.
    """
    routes = [list(r) for r in routes if len(r)]
    loads = list(route_loads(routes, demands)) if routes else []
    for c in removed:
        c = int(c)
        best, where = np.inf, None
        if routes:
            heads = np.concatenate([[0] + r for r in routes])
            tails = np.concatenate([r + [0] for r in routes])
            rid = np.repeat(np.arange(len(routes)), [len(r) + 1 for r in routes])
            cost = dist[heads, c] + dist[c, tails] - dist[heads, tails]
            cost = np.where(np.asarray(loads)[rid] + demands[c] <= capacity + 1e-9, cost, np.inf)
            k = int(np.argmin(cost))
            if np.isfinite(cost[k]):
                best, where = float(cost[k]), k
        if where is None or best > 2.0 * dist[0, c]:
            routes.append([c])
            loads.append(float(demands[c]))
            continue
        r = int(rid[where])
        offset = where - int(np.flatnonzero(rid == r)[0])
        routes[r].insert(offset, c)
        loads[r] += float(demands[c])
    return routes


def _without(routes: list, removed: set) -> list:
    return [[c for c in r if c not in removed] for r in routes]


def random_ruin_recreate(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                         rng: np.random.Generator, fraction: float = 0.1) -> list:
    """Remove a random ``fraction`` of the customers, reinsert them greedily in random order.

    Returns ``perturbed_routes``.
    """
    n = dist.shape[0] - 1
    count = max(1, min(n, int(round(fraction * n))))
    removed = (rng.permutation(n)[:count] + 1).tolist()
    return greedy_insert(_without(routes, set(removed)), removed, dist, demands, capacity)


def radial_ruin_recreate(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                         rng: np.random.Generator, fraction: float = 0.1) -> list:
    """Remove a random customer and its nearest customers (``fraction`` of all), reinsert them greedily
    from the farthest from the depot to the nearest. Returns ``perturbed_routes``.
    """
    n = dist.shape[0] - 1
    count = max(1, min(n, int(round(fraction * n))))
    seed = int(rng.integers(1, n + 1))
    near = np.argsort(dist[seed, 1:], kind="stable")[:count] + 1
    removed = sorted(near.tolist(), key=lambda c: -dist[0, c])
    return greedy_insert(_without(routes, set(removed)), removed, dist, demands, capacity)


def string_ruin_recreate(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                         rng: np.random.Generator, fraction: float = 0.1, max_string: int = 10) -> list:
    """Remove strings (consecutive customers, at most ``max_string`` long) from the routes nearest a
    random customer until ``fraction`` of the customers are out (as in SISR), then reinsert them
    greedily in random order. Returns ``perturbed_routes``.
    """
    n = dist.shape[0] - 1
    target = max(1, min(n, int(round(fraction * n))))
    seed = int(rng.integers(1, n + 1))
    route_of = {c: k for k, r in enumerate(routes) for c in r}
    removed: list[int] = []
    done: set[int] = set()
    for c in (np.argsort(dist[seed, 1:], kind="stable") + 1).tolist():
        if len(removed) >= target:
            break
        k = route_of.get(c)
        if k is None or k in done:
            continue
        done.add(k)
        r = routes[k]
        length = int(rng.integers(1, min(max_string, len(r)) + 1))
        i = r.index(c)
        start = int(np.clip(i - rng.integers(0, length), 0, len(r) - length))
        removed.extend(r[start:start + length])
    removed = [int(c) for c in rng.permutation(removed)]
    return greedy_insert(_without(routes, set(removed)), removed, dist, demands, capacity)


def swap_mutation(giant_tour: np.ndarray, rng: np.random.Generator, strength: float = 0.05) -> np.ndarray:
    """Swap ``strength · n`` random pairs of positions. Returns ``perturbed_tour [n]``."""
    tour = np.array(giant_tour, dtype=np.int64, copy=True)
    n = tour.size
    for _ in range(max(1, int(round(strength * n)))):
        i, j = rng.integers(0, n, size=2)
        tour[i], tour[j] = tour[j], tour[i]
    return tour


def segment_reversal(giant_tour: np.ndarray, rng: np.random.Generator, strength: float = 0.05) -> np.ndarray:
    """Reverse one random segment of ``strength · n`` positions. Returns ``perturbed_tour [n]``."""
    tour = np.array(giant_tour, dtype=np.int64, copy=True)
    n = tour.size
    k = max(2, min(n, int(round(strength * n))))
    i = int(rng.integers(0, n - k + 1))
    tour[i:i + k] = tour[i:i + k][::-1]
    return tour


def double_bridge(giant_tour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Double bridge: cut the tour into four pieces A B C D and rejoin them as A C B D.

    Returns ``perturbed_tour [n]``.
    """
    tour = np.asarray(giant_tour, dtype=np.int64)
    n = tour.size
    if n < 8:
        return tour.copy()
    a, b, c = np.sort(rng.choice(np.arange(1, n), size=3, replace=False))
    return np.concatenate((tour[:a], tour[b:c], tour[a:b], tour[c:]))
