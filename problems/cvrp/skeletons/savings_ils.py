"""Iterated local search from a constructed solution with record-to-record acceptance.

func_1 builds the initial routes; each iteration perturbs the current routes
with func_2 and improves them with func_3; a candidate within THRESHOLD
(relative, shrinking to zero over the budget) of the best becomes current.
"""
import time

import numpy as np

from heubase.cvrp.routes import distance_matrix, nearest_neighbours, routes_to_array, solution_cost

#Hyperparameter#
MAX_TIME = 300.0
THRESHOLD = 0.01
NEIGHBOURS = 20  # int
#Hyperparameter#


def func_1(dist: np.ndarray, demands: np.ndarray, capacity: float, rng: np.random.Generator) -> list:
    # Purpose: return ``initial_routes``: a list of routes (lists of customer ids 1..n, depot 0 left out) serving every
    # customer once, each route's demand within capacity.
    pass


def func_2(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float, rng: np.random.Generator) -> list:
    # Purpose: return ``perturbed_routes``: a changed copy of routes that still serves every customer once within
    # capacity, different enough for local search to escape its local optimum.
    pass


def func_3(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float, neighbours: np.ndarray,
           deadline: float) -> list:
    # Purpose: return ``improved_routes``: routes after local search (same customers, capacity kept, cost not higher);
    # neighbours [n+1, k] lists each customer's nearest customers; stop by deadline (a time.perf_counter() value).
    pass


def solve_cvrp(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
               seed: int) -> np.ndarray:
    start = time.perf_counter()
    budget = 0.9 * min(float(time_limit_s), MAX_TIME)
    deadline = start + budget
    rng = np.random.default_rng(seed)
    dist = distance_matrix(coords)
    near = nearest_neighbours(dist, NEIGHBOURS)
    current = func_3(func_1(dist, demands, capacity, rng), dist, demands, capacity, near, deadline)
    current_cost = solution_cost(current, dist)
    best, best_cost = current, current_cost
    while time.perf_counter() < deadline:
        candidate = func_2([list(r) for r in current], dist, demands, capacity, rng)
        candidate = func_3(candidate, dist, demands, capacity, near, deadline)
        cost = solution_cost(candidate, dist)
        progress = min(1.0, (time.perf_counter() - start) / budget)
        if cost < best_cost * (1.0 + THRESHOLD * (1.0 - progress)):
            current, current_cost = candidate, cost
        if cost < best_cost - 1e-9:
            best, best_cost = candidate, cost
    return routes_to_array(best)
