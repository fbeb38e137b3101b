"""Complete solvers built from the other modules: one-shot, multi-start and iterated split + local search.

Each takes the caller's arguments of ``solve_cvrp`` (``coords [n+1, 2]`` with the
depot first, ``demands [n+1]``, ``capacity``, ``time_limit_s``, ``seed``) and
returns ``solution_routes``: a list of routes (lists of customer ids, depot left
out). They stop a little before ``time_limit_s`` seconds.
"""
from __future__ import annotations

import time

import numpy as np

from heubase.cvrp.acceptance import accept_record_to_record
from heubase.cvrp.construct import nearest_neighbour_tour, random_tour, savings_routes, sweep_tour
from heubase.cvrp.local_search import full_local_search
from heubase.cvrp.perturb import string_ruin_recreate
from heubase.cvrp.routes import distance_matrix, giant_tour_of, nearest_neighbours, solution_cost
from heubase.cvrp.split import split_routes

SAFETY = 0.95  # fraction of the time limit a host uses


def nn_split_ls(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float, seed: int,
                neighbours: int = 20) -> list:
    """One pass: nearest-neighbour giant tour (from the customer nearest the depot), split, full local search.

    Returns ``solution_routes``.
    """
    start = time.perf_counter()
    dist = distance_matrix(coords)
    near = nearest_neighbours(dist, neighbours)
    first = int(np.argmin(dist[0, 1:])) + 1
    tour = np.concatenate(([first], _nn_from(dist, first)))
    routes = split_routes(tour, dist, demands, capacity)
    return full_local_search(routes, dist, demands, capacity, near, deadline=start + SAFETY * time_limit_s)


def _nn_from(dist: np.ndarray, first: int) -> np.ndarray:
    n = dist.shape[0] - 1
    seen = np.zeros(n + 1, dtype=bool)
    seen[[0, first]] = True
    out, current = [], first
    for _ in range(n - 1):
        current = int(np.argmin(np.where(seen, np.inf, dist[current])))
        seen[current] = True
        out.append(current)
    return np.asarray(out, dtype=np.int64)


def clarke_wright(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
                  seed: int) -> list:
    """Clarke-Wright savings routes, nothing else. Returns ``solution_routes``."""
    return savings_routes(distance_matrix(coords), np.asarray(demands, dtype=np.float64), capacity)


def multistart_split_ls(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
                        seed: int, neighbours: int = 20) -> list:
    """Split & LS as the BEAM paper's baseline: random giant tours, split, local search, keep the best,
    until the time limit. Returns ``solution_routes``.
    """
    start = time.perf_counter()
    deadline = start + SAFETY * time_limit_s
    rng = np.random.default_rng(seed)
    dist = distance_matrix(coords)
    near = nearest_neighbours(dist, neighbours)
    best, best_cost = None, np.inf
    while best is None or time.perf_counter() < deadline:
        routes = split_routes(random_tour(coords, dist, rng), dist, demands, capacity)
        routes = full_local_search(routes, dist, demands, capacity, near, deadline=deadline)
        cost = solution_cost(routes, dist)
        if cost < best_cost:
            best, best_cost = routes, cost
    return best


def iterated_split_ls(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float, seed: int,
                      neighbours: int = 20, starts: int = 4, fraction: float = 0.1, threshold: float = 0.01,
                      resplit: float = 0.2) -> list:
    """Iterated local search around split: the best hand-written HeuBase composition.

    Starts from savings routes and ``starts`` split giant tours (nearest
    neighbour, sweep, random), each improved by the full local search; then
    repeats: string ruin & recreate (``fraction`` of the customers) on the
    current solution, or, with probability ``resplit``, a split of the current
    routes' giant tour, then local search, with record-to-record acceptance
    (``threshold``). Returns ``solution_routes``, the best found.
    """
    start = time.perf_counter()
    budget = SAFETY * time_limit_s
    deadline = start + budget
    rng = np.random.default_rng(seed)
    dist = distance_matrix(coords)
    dem = np.asarray(demands, dtype=np.float64)
    near = nearest_neighbours(dist, neighbours)
    pool = [savings_routes(dist, dem, capacity)]
    makers = (nearest_neighbour_tour, sweep_tour, random_tour)
    for k in range(starts):
        pool.append(split_routes(makers[k % len(makers)](coords, dist, rng), dist, dem, capacity))
    best, best_cost = None, np.inf
    for routes in pool:
        if best is not None and time.perf_counter() >= deadline:
            break
        routes = full_local_search(routes, dist, dem, capacity, near, deadline=deadline)
        cost = solution_cost(routes, dist)
        if cost < best_cost:
            best, best_cost = routes, cost
    current, current_cost = best, best_cost
    while time.perf_counter() < deadline:
        if rng.random() < resplit:
            candidate = split_routes(giant_tour_of(current), dist, dem, capacity)
            candidate = string_ruin_recreate(candidate, dist, dem, capacity, rng, fraction)
        else:
            candidate = string_ruin_recreate(current, dist, dem, capacity, rng, fraction)
        candidate = full_local_search(candidate, dist, dem, capacity, near, deadline=deadline)
        cost = solution_cost(candidate, dist)
        progress = (time.perf_counter() - start) / budget
        if accept_record_to_record(cost, current_cost, best_cost, progress, rng, threshold):
            current, current_cost = candidate, cost
        if cost < best_cost - 1e-9:
            best, best_cost = candidate, cost
    return best
