"""The trusted online loop: first/best/worst fit worked by hand, the view, and equality with FunSearch's full-array loop."""
from __future__ import annotations

import numpy as np
import pytest

from binpack_helpers import load_binpack_module
from heubase.binpack import rules, shaping

online = load_binpack_module("online")

# capacity 10, items 4, 7, 3, 6 (L1 bound 2), by hand:
#   first fit: 4 -> A (6 left), 7 -> B (3), 3 -> A (3), 6 -> C            = 3 bins
#   best fit:  4 -> A (6 left), 7 -> B (3), 3 -> B (0, tighter than A), 6 -> A (0) = 2 bins
#   worst fit: 4 -> A (6 left), 7 -> B (3), 3 -> A (emptiest used: 3), 6 -> C = 3 bins
HAND = np.array([4.0, 7.0, 3.0, 6.0])


def test_first_best_worst_fit_by_hand():
    assert online.pack(HAND, 10, rules.first_fit) == 3
    assert online.pack(HAND, 10, rules.best_fit) == 2
    assert online.pack(HAND, 10, rules.worst_fit) == 3


def test_first_fit_and_best_fit_differ_in_bin_choice_by_hand():
    # capacity 10: 5 -> A (5 left), 8 -> B (2), 2: first fit takes A, best fit takes B; then 5 fits only where 5 is left
    items = np.array([5.0, 8.0, 2.0, 5.0])
    assert online.pack(items, 10, rules.first_fit) == 3   # A: 5+2 (3 left), B: 8, C: 5
    assert online.pack(items, 10, rules.best_fit) == 2    # A: 5+5, B: 8+2


def test_view_shows_fitting_used_bins_in_order_then_two_fresh_bins():
    state = online.OnlinePacking(10, 6)
    for item, target in ((6.0, 0), (8.0, 1), (3.0, 2)):
        state.place(item, target)
    ids, caps = state.view(3.0)
    assert ids.tolist() == [0, 2, 3, 4] and caps.tolist() == [4.0, 7.0, 10.0, 10.0]
    assert state.bins_used() == 3
    # a choice of the second fresh bin leaves a hole that later views show like any fitting bin
    state.place(5.0, 4)
    ids, caps = state.view(9.0)
    assert ids.tolist() == [3, 5] and caps.tolist() == [10.0, 10.0]


def funsearch_style_pack(items, capacity, priority):
    """Independent re-statement of FunSearch's evaluator: n full bins, score the fitting ones, first maximum."""
    bins = np.full(len(items), float(capacity))
    for item in items:
        valid = np.flatnonzero(bins - item >= 0)
        best = valid[int(np.argmax(priority(float(item), bins[valid])))]
        bins[best] -= item
    return int(np.count_nonzero(bins != capacity))


def neighbour_difference(item, bins):
    """A position-dependent rule in the manner of FunSearch's Weibull heuristic (scores minus the previous bin's)."""
    score = (bins - bins.max()) ** 2 / item + bins ** 2 / item ** 2
    score[bins > item] = -score[bins > item]
    score[1:] -= score[:-1].copy()
    return score


@pytest.mark.parametrize("priority", [rules.first_fit, rules.best_fit, rules.worst_fit, rules.almost_worst_fit,
                                      rules.tight_fit_else_worst, neighbour_difference,
                                      lambda item, bins: -np.abs(bins - 2 * item)])
def test_view_gives_the_same_bins_as_the_full_array_loop(priority):
    rng = np.random.default_rng(4)
    for _ in range(4):
        items = rng.integers(5, 80, size=300).astype(np.float64)
        assert online.pack(items, 100, priority) == funsearch_style_pack(items, 100, priority)


@pytest.mark.parametrize("scores, message", [
    (np.array([1.0, np.nan, 0.0]), "NaN"),
    (np.array([1.0, 2.0]), "shape (3,)"),
    (np.ones((3, 1)), "shape (3,)"),
    ([1.0, 2.0, 3.0], "must be an array"),
    (np.array(["a", "b", "c"]), "must be numbers"),
])
def test_choose_rejects_malformed_scores(scores, message):
    with pytest.raises(online.InvalidScores, match=message.replace("(", r"\(").replace(")", r"\)")):
        online.choose(scores, 3)


def test_choose_takes_the_first_maximum_and_accepts_infinities():
    assert online.choose(np.array([-np.inf, 2.0, 2.0, np.inf, np.inf]), 5) == 3
    assert online.choose(np.array([1, 3, 3]), 3) == 1


COMPONENTS = [getattr(rules, n) for n in ("first_fit", "best_fit", "worst_fit", "almost_worst_fit",
                                          "tight_fit_else_worst")]
TERMS = [getattr(shaping, n) for n in ("tight_fit_bonus", "waste_penalty", "fill_ratio", "fresh_bin_penalty",
                                       "size_class_match", "room_for_same", "spare_room")]


@pytest.mark.parametrize("component", COMPONENTS + TERMS, ids=lambda f: f.__name__)
def test_components_return_one_finite_score_per_bin_and_leave_the_input(component):
    rng = np.random.default_rng(1)
    for _ in range(50):
        item = float(rng.integers(1, 100))
        used = rng.uniform(item, 100, size=rng.integers(0, 6))
        view = np.concatenate([used, [100.0, 100.0]])
        before = view.copy()
        scores = component(item, view)
        assert isinstance(scores, np.ndarray) and scores.shape == view.shape and np.isfinite(scores).all()
        assert np.array_equal(view, before)


@pytest.mark.parametrize("rule", COMPONENTS, ids=lambda f: f.__name__)
def test_rules_open_a_new_bin_only_when_no_used_bin_fits(rule):
    # every rule here prefers any used bin over a fresh one (first/best/worst fit and their variants)
    view = np.array([35.0, 60.0, 100.0, 100.0])
    assert online.choose(rule(30.0, view), 4) in (0, 1)
    assert online.choose(rule(30.0, np.array([100.0, 100.0])), 2) == 0


def test_tight_fit_else_worst_and_terms_by_hand():
    view = np.array([31.0, 50.0, 90.0, 100.0, 100.0])
    assert online.choose(rules.tight_fit_else_worst(30.0, view, tolerance=0.02), 5) == 0   # leftover 1 <= 2
    assert online.choose(rules.tight_fit_else_worst(30.0, view, tolerance=0.005), 5) == 2  # emptiest used bin
    assert shaping.waste_penalty(30.0, view, dead_zone=0.1).tolist() == [-0.9, 0.0, 0.0, 0.0, 0.0]
    assert shaping.fresh_bin_penalty(60.0, view).tolist() == [0.0] * 5   # large items may open bins
