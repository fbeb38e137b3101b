"""Iterated local search on routes: split starts, then ruin & recreate + local search with an acceptance rule.

func_1 builds giant tours for the starting solutions (cut by split, improved by
the full local search); func_2 perturbs the current routes; func_3 decides
whether the search moves to the new local optimum. The best solution is kept.
"""
import time

import numpy as np

from heubase.cvrp.local_search import full_local_search
from heubase.cvrp.routes import distance_matrix, nearest_neighbours, routes_to_array, solution_cost
from heubase.cvrp.split import split_routes

#Hyperparameter#
MAX_TIME = 300.0
STARTS = 3  # int
NEIGHBOURS = 20  # int
#Hyperparameter#


def func_1(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Purpose: return ``giant_tour [n]``: a permutation of the customers 1..n (coords [n+1, 2] and dist [n+1, n+1]
    # have the depot at 0) in an order that split cuts into good routes; use rng so repeated calls differ.
    pass


def func_2(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float, rng: np.random.Generator) -> list:
    # Purpose: return ``perturbed_routes``: a changed copy of routes (lists of customer ids, depot left out) that still
    # serves every customer once within capacity, different enough for local search to escape its local optimum.
    pass


def func_3(candidate_cost: float, current_cost: float, best_cost: float, progress: float,
           rng: np.random.Generator) -> bool:
    # Purpose: return ``accept`` (bool): whether the search moves from the current solution to the candidate;
    # progress is the elapsed fraction of the time budget in [0, 1].
    pass


def solve_cvrp(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
               seed: int) -> np.ndarray:
    start = time.perf_counter()
    budget = 0.9 * min(float(time_limit_s), MAX_TIME)
    deadline = start + budget
    rng = np.random.default_rng(seed)
    dist = distance_matrix(coords)
    near = nearest_neighbours(dist, NEIGHBOURS)
    best, best_cost = None, np.inf
    for _ in range(max(1, STARTS)):
        if best is not None and time.perf_counter() >= deadline:
            break
        routes = split_routes(np.asarray(func_1(coords, dist, rng)), dist, demands, capacity)
        routes = full_local_search(routes, dist, demands, capacity, near, deadline=deadline)
        cost = solution_cost(routes, dist)
        if cost < best_cost:
            best, best_cost = routes, cost
    current, current_cost = best, best_cost
    while time.perf_counter() < deadline:
        candidate = func_2([list(r) for r in current], dist, demands, capacity, rng)
        candidate = full_local_search(candidate, dist, demands, capacity, near, deadline=deadline)
        cost = solution_cost(candidate, dist)
        progress = min(1.0, (time.perf_counter() - start) / budget)
        if func_3(cost, current_cost, best_cost, progress, rng):
            current, current_cost = candidate, cost
        if cost < best_cost - 1e-9:
            best, best_cost = candidate, cost
    return routes_to_array(best)
