"""Invariants of the CVRP HeuBase: split optimality, constructors, local search, perturbations, acceptance."""
from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from cvrp_helpers import cost_by_hand, feasible, random_case
from heubase.cvrp import acceptance, construct, host, local_search, perturb, routes as R
from heubase.cvrp.split import split_routes


def brute_force_split(tour, coords, demands, capacity):
    """Best cutting of ``tour`` by trying every set of cut positions."""
    best = np.inf
    n = len(tour)
    for mask in range(1 << (n - 1)):
        routes, cur = [], [tour[0]]
        for i in range(1, n):
            if mask >> (i - 1) & 1:
                routes.append(cur)
                cur = []
            cur.append(tour[i])
        routes.append(cur)
        if all(sum(demands[c] for c in r) <= capacity for r in routes):
            best = min(best, cost_by_hand(routes, coords))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_split_is_optimal_for_the_given_order(seed):
    coords, demands, dist, _ = random_case(9, seed)
    capacity = 15.0
    tour = np.random.default_rng(seed).permutation(9) + 1
    routes = split_routes(tour, dist, demands, capacity)
    assert [c for r in routes for c in r] == tour.tolist()          # consecutive pieces of the tour
    assert feasible(routes, demands, capacity)
    assert cost_by_hand(routes, coords) == pytest.approx(brute_force_split(tour.tolist(), coords, demands, capacity))


def test_split_rejects_a_demand_above_capacity():
    _, demands, dist, _ = random_case(4, 0)
    with pytest.raises(ValueError, match="exceeds the vehicle capacity"):
        split_routes(np.array([1, 2, 3, 4]), dist, demands, 0.5)


@pytest.mark.parametrize("make", [construct.nearest_neighbour_tour, construct.sweep_tour, construct.random_tour])
def test_tour_constructors_give_permutations(make):
    coords, _, dist, _ = random_case(40, 1)
    tour = make(coords, dist, np.random.default_rng(3))
    assert sorted(tour.tolist()) == list(range(1, 41))


def test_nearest_neighbour_follows_the_nearest_unvisited_customer():
    # customers on a line at x = 1, 2, 4, 7 (depot at 0): from customer 1 the order must be 1, 2, 3, 4
    coords = np.array([[0, 0], [1, 0], [2, 0], [4, 0], [7, 0]], dtype=float)
    dist = R.distance_matrix(coords)

    class First:
        def integers(self, lo, hi):
            return 1
    assert construct.nearest_neighbour_tour(coords, dist, First()).tolist() == [1, 2, 3, 4]


def test_sweep_orders_by_angle():
    coords = np.array([[0, 0], [0, 1], [1, 0], [-1, 0], [0, -1]], dtype=float)  # 90, 0, 180, 270 degrees

    class Zero:
        def uniform(self, lo, hi):
            return 0.0
    assert construct.sweep_tour(coords, R.distance_matrix(coords), Zero()).tolist() == [2, 1, 3, 4]


def test_savings_merges_by_hand():
    # two customers far out on the same side: merging saves 2 * 10 - 1 > 0, capacity allows it
    coords = np.array([[0, 0], [10, 0], [10, 1], [-10, 0]], dtype=float)
    demands = np.array([0, 1, 1, 1], dtype=float)
    routes = construct.savings_routes(R.distance_matrix(coords), demands, 2)
    assert sorted(sorted(r) for r in routes) == [[1, 2], [3]]


@pytest.mark.parametrize("n,seed", [(30, 0), (80, 1), (150, 2)])
def test_savings_and_nn_routes_are_feasible(n, seed):
    _, demands, dist, capacity = random_case(n, seed, 30.0)
    assert feasible(construct.savings_routes(dist, demands, capacity), demands, capacity)
    assert feasible(construct.nearest_neighbour_routes(dist, demands, capacity, np.random.default_rng(0)),
                    demands, capacity)


SEARCHES = [local_search.full_local_search, local_search.relocate_swap_search, local_search.route_structure_search,
            local_search.relocate_chain_search, local_search.two_opt_routes]


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("seed", range(3))
def test_local_search_keeps_feasibility_and_never_worsens(search, seed):
    coords, demands, dist, capacity = random_case(60, seed, 25.0)
    near = R.nearest_neighbours(dist, 10)
    start = split_routes(construct.random_tour(coords, dist, np.random.default_rng(seed)), dist, demands, capacity)
    out = search(start, dist, demands, capacity, near)
    assert feasible(out, demands, capacity)
    assert cost_by_hand(out, coords) <= cost_by_hand(start, coords) + 1e-9


@pytest.mark.parametrize("move", ["relocate", "swap", "or_opt2", "or_opt3", "two_opt", "two_opt_star"])
def test_each_move_alone_keeps_feasibility(move):
    coords, demands, dist, capacity = random_case(50, 7, 20.0)
    near = R.nearest_neighbours(dist, 8)
    start = split_routes(construct.random_tour(coords, dist, np.random.default_rng(1)), dist, demands, capacity)
    out = local_search.descend(start, dist, demands, capacity, near, (move,))
    assert feasible(out, demands, capacity)
    assert cost_by_hand(out, coords) < cost_by_hand(start, coords)  # a random start always has an improving move


def test_two_opt_uncrosses_a_route():
    # four corners of a square visited in an order whose edges cross costs more than the perimeter order
    coords = np.array([[0.5, -1], [0, 0], [1, 1], [1, 0], [0, 1]], dtype=float)
    demands = np.array([0, 1, 1, 1, 1], dtype=float)
    dist = R.distance_matrix(coords)
    crossing = [[1, 2, 3, 4]]                    # (0,0) -> (1,1) -> (1,0) -> (0,1): two crossing edges
    out = local_search.two_opt_routes(crossing, dist, demands, 10, R.nearest_neighbours(dist, 3))
    assert cost_by_hand(out, coords) < cost_by_hand(crossing, coords) - 0.1
    assert feasible(out, demands, 10)


def test_local_search_stops_at_the_deadline():
    coords, demands, dist, capacity = random_case(300, 4, 50.0)
    start = split_routes(construct.random_tour(coords, dist, np.random.default_rng(0)), dist, demands, capacity)
    t0 = time.perf_counter()
    out = local_search.full_local_search(start, dist, demands, capacity, R.nearest_neighbours(dist, 20),
                                         deadline=time.perf_counter())
    assert time.perf_counter() - t0 < 0.5 and feasible(out, demands, capacity)


@pytest.mark.parametrize("ruin", [perturb.random_ruin_recreate, perturb.radial_ruin_recreate,
                                  perturb.string_ruin_recreate])
def test_ruin_and_recreate_keeps_every_customer(ruin):
    coords, demands, dist, capacity = random_case(70, 3, 25.0)
    start = construct.savings_routes(dist, demands, capacity)
    out = ruin(start, dist, demands, capacity, np.random.default_rng(5), 0.2)
    assert feasible(out, demands, capacity)
    assert out != start


def test_greedy_insert_takes_the_cheapest_position():
    coords = np.array([[0, 0], [0, 2], [0, 4], [0, 3]], dtype=float)   # 3 lies between 1 and 2
    dist = R.distance_matrix(coords)
    out = perturb.greedy_insert([[1, 2]], [3], dist, np.array([0, 1, 1, 1.0]), 5)
    assert out == [[1, 3, 2]]


@pytest.mark.parametrize("mutate", [perturb.swap_mutation, perturb.segment_reversal, perturb.double_bridge])
def test_tour_mutations_are_permutations(mutate):
    tour = np.random.default_rng(0).permutation(50) + 1
    out = mutate(tour, np.random.default_rng(1))
    assert sorted(out.tolist()) == list(range(1, 51)) and not np.array_equal(out, tour)


def test_acceptance_rules():
    rng = np.random.default_rng(0)
    assert acceptance.accept_improving(9.0, 10.0, 9.5, 0.5, rng)
    assert not acceptance.accept_improving(10.0, 10.0, 9.5, 0.5, rng)
    assert acceptance.accept_record_to_record(10.05, 10.0, 10.0, 0.0, rng, 0.01)      # within 1 % of the best
    assert not acceptance.accept_record_to_record(10.05, 10.0, 10.0, 1.0, rng, 0.01)  # threshold gone at the end
    assert acceptance.accept_annealing(9.0, 10.0, 9.0, 0.9, rng)
    assert not acceptance.accept_annealing(11.0, 10.0, 9.0, 1.0, rng)


def test_route_conversions_round_trip():
    routes = [[3, 1], [2, 5, 4]]
    flat = R.routes_to_array(routes)
    assert flat.tolist() == [0, 3, 1, 0, 2, 5, 4, 0]
    assert R.array_to_routes(flat) == routes and R.giant_tour_of(routes).tolist() == [3, 1, 2, 5, 4]


def test_neighbour_lists_exclude_self_and_depot():
    _, _, dist, _ = random_case(30, 2)
    near = R.nearest_neighbours(dist, 5)
    for c in range(1, 31):
        assert c not in near[c] and 0 not in near[c]
        assert dist[c, near[c][0]] == min(dist[c, j] for j in range(1, 31) if j != c)


@pytest.mark.parametrize("solver", [host.clarke_wright, host.nn_split_ls, host.multistart_split_ls,
                                    host.iterated_split_ls])
def test_hosts_return_feasible_solutions_in_time(solver):
    coords, demands, _, capacity = random_case(60, 9, 30.0)
    t0 = time.perf_counter()
    routes = solver(coords, demands, capacity, 0.5, 0)
    assert time.perf_counter() - t0 < 1.0
    assert feasible(routes, demands, capacity)
