"""Giant-tour evolution around split (the shape of the BEAM paper's CVRP solver).

A small pool of solutions is built from func_1's giant tours. Each iteration
takes a pool member's giant tour (its routes concatenated), mutates it with
func_2, re-splits it and improves the routes with func_3; the result replaces
the worst pool member when it is better. The best solution is returned.
"""
import time

import numpy as np

from heubase.cvrp.routes import distance_matrix, giant_tour_of, nearest_neighbours, routes_to_array, solution_cost
from heubase.cvrp.split import split_routes

#Hyperparameter#
MAX_TIME = 300.0
POOL_SIZE = 4  # int
NEIGHBOURS = 20  # int
ELITE_BIAS = 0.7
#Hyperparameter#


def func_1(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Purpose: return ``giant_tour [n]``: a permutation of the customers 1..n (coords [n+1, 2] and dist [n+1, n+1]
    # have the depot at 0) in an order that split cuts into good routes; use rng so repeated calls differ.
    pass


def func_2(giant_tour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Purpose: return ``perturbed_tour [n]``: a mutated copy of giant_tour (still a permutation of the same customers)
    # that split and local search can turn into a different, possibly better solution.
    pass


def func_3(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float, neighbours: np.ndarray,
           deadline: float) -> list:
    # Purpose: return ``improved_routes``: routes after local search (same customers, capacity kept, cost not higher);
    # neighbours [n+1, k] lists each customer's nearest customers; stop by deadline (a time.perf_counter() value).
    pass


def solve_cvrp(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
               seed: int) -> np.ndarray:
    start = time.perf_counter()
    deadline = start + 0.9 * min(float(time_limit_s), MAX_TIME)
    rng = np.random.default_rng(seed)
    dist = distance_matrix(coords)
    near = nearest_neighbours(dist, NEIGHBOURS)
    pool = []
    for _ in range(max(1, POOL_SIZE)):
        if pool and time.perf_counter() >= deadline:
            break
        routes = split_routes(np.asarray(func_1(coords, dist, rng)), dist, demands, capacity)
        routes = func_3(routes, dist, demands, capacity, near, deadline)
        pool.append((solution_cost(routes, dist), routes))
    while time.perf_counter() < deadline:
        pool.sort(key=lambda item: item[0])
        pick = 0 if rng.random() < ELITE_BIAS else int(rng.integers(0, len(pool)))
        tour = np.asarray(func_2(giant_tour_of(pool[pick][1]), rng))
        routes = func_3(split_routes(tour, dist, demands, capacity), dist, demands, capacity, near, deadline)
        cost = solution_cost(routes, dist)
        if cost < pool[-1][0] - 1e-9 and all(abs(cost - c) > 1e-9 for c, _ in pool):
            pool[-1] = (cost, routes)
    return routes_to_array(min(pool, key=lambda item: item[0])[1])
