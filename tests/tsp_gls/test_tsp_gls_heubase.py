"""Invariants of the TSP-GLS HeuBase: tours stay permutations, deltas are exact, descents never lengthen."""
from __future__ import annotations

import math

import numpy as np
import pytest

from heubase.tsp_gls import guides, utilities
from heubase.tsp_gls.construct import greedy_edge_tour, nearest_neighbour_tour, random_tour
from heubase.tsp_gls.gls import guided_local_search
from heubase.tsp_gls.local_search import focused_move, local_search, two_opt
from heubase.tsp_gls.moves import apply_move, best_or_opt, best_two_opt, segments_around
from heubase.tsp_gls.tours import neighbour_lists, tour_length, tour_positions
from tsp_gls_helpers import is_permutation, random_distance

SQUARE = np.array([[0, 1, math.sqrt(2), 1], [1, 0, 1, math.sqrt(2)],
                   [math.sqrt(2), 1, 0, 1], [1, math.sqrt(2), 1, 0]], dtype=float)  # unit square, corners in order


def test_tour_length_of_the_unit_square_by_hand():
    assert tour_length(SQUARE, np.array([0, 1, 2, 3])) == pytest.approx(4.0)
    assert tour_length(SQUARE, np.array([0, 2, 1, 3])) == pytest.approx(2 + 2 * math.sqrt(2))


def test_neighbour_lists_exclude_self_and_are_sorted():
    d = random_distance(30, 1)
    nb = neighbour_lists(d, 5)
    assert nb.shape == (30, 5)
    assert not np.any(nb == np.arange(30)[:, None])
    rows = np.take_along_axis(d, nb, axis=1)
    assert np.all(np.diff(rows, axis=1) >= 0)
    assert np.allclose(rows[:, 0], np.sort(d + np.diag(np.full(30, np.inf)), axis=1)[:, 0])


@pytest.mark.parametrize("build", [nearest_neighbour_tour, greedy_edge_tour])
def test_constructors_give_permutations_starting_at_start(build):
    d = random_distance(40, 2)
    tour = build(d, 7)
    assert is_permutation(tour, 40) and tour[0] == 7
    assert tour_length(d, tour) < tour_length(d, random_tour(40, 0))


def test_nearest_neighbour_follows_the_closest_city():
    d = np.array([[0, 1, 3, 2], [1, 0, 1, 3], [3, 1, 0, 1], [2, 3, 1, 0]], dtype=float)
    assert nearest_neighbour_tour(d, 0).tolist() == [0, 1, 2, 3]


def test_two_opt_uncrosses_the_square():
    tour = two_opt(SQUARE, np.array([0, 2, 1, 3]), neighbour_lists(SQUARE, 3))
    assert tour_length(SQUARE, tour) == pytest.approx(4.0)


@pytest.mark.parametrize("seed", range(5))
def test_move_deltas_match_the_length_change(seed):
    d = random_distance(25, seed)
    tour = random_tour(25, seed)
    pos = tour_positions(tour)
    before = tour_length(d, tour)
    delta, move = best_two_opt(d, tour, pos, np.arange(25), neighbour_lists(d, 6))
    after = apply_move(tour, move)
    assert is_permutation(after, 25) and tour_length(d, after) == pytest.approx(before + delta)
    starts, lengths = segments_around(pos, np.array([3, 11]), 3)
    slots = np.broadcast_to(np.arange(25), (len(starts), 25))
    delta, move = best_or_opt(d, tour, pos, starts, lengths, slots)
    after = apply_move(tour, move)
    assert is_permutation(after, 25) and tour_length(d, after) == pytest.approx(before + delta)


def test_local_search_reaches_a_two_opt_optimum_and_never_lengthens():
    d = random_distance(60, 3)
    start = random_tour(60, 1)
    tour = local_search(d, start)
    assert is_permutation(tour, 60) and tour_length(d, tour) < tour_length(d, start)
    delta, _ = best_two_opt(d, tour, tour_positions(tour), np.arange(60), neighbour_lists(d, 10))
    assert delta > -1e-9  # no improving move is left among the neighbour-list candidates


def test_focused_move_improves_when_it_moves():
    d = random_distance(30, 4)
    tour = random_tour(30, 2)
    moved = focused_move(d, tour, np.array([tour[0], tour[1]]))
    assert moved is not None and is_permutation(moved, 30)
    assert tour_length(d, moved) < tour_length(d, tour)


def test_gls_returns_a_permutation_in_time_and_beats_plain_descent():
    d = random_distance(80, 5)
    import time
    start = time.perf_counter()
    tour = guided_local_search(d, d, 1.0, 0)
    assert time.perf_counter() - start < 1.3
    assert is_permutation(tour, 80)
    plain = local_search(d, nearest_neighbour_tour(d, 0))
    assert tour_length(d, tour) <= tour_length(d, plain) + 1e-12


def test_gls_rejects_a_bad_guide_or_utility():
    d = random_distance(10, 6)
    with pytest.raises(ValueError, match="shape"):
        guided_local_search(d, d[:5], 0.2)
    with pytest.raises(ValueError, match="NaN"):
        guided_local_search(d, d, 0.2, utility=lambda g, p: g * np.nan)


@pytest.mark.parametrize("name", ["distance_guide", "power_guide", "nearest_excess_guide", "rank_guide",
                                  "centred_guide"])
def test_guides_are_finite_non_negative_and_symmetric(name):
    d = random_distance(20, 7)
    g = getattr(guides, name)(d)
    assert g.shape == (20, 20) and np.all(np.isfinite(g)) and np.all(g >= 0) and np.allclose(g, g.T)


def test_classic_utility_by_hand_and_variants_prefer_unpenalised_edges():
    assert utilities.classic_utility(np.array([2.0, 3.0]), np.array([0.0, 2.0])).tolist() == [2.0, 1.0]
    guide, penalty = np.array([1.0, 1.0]), np.array([0.0, 3.0])
    for f in (utilities.damped_utility, utilities.relative_utility, utilities.log_utility):
        u = f(guide, penalty)
        assert u.shape == (2,) and u[0] > u[1]
