"""Invariants of every HeuBase MIS component: independence, maximality, never worse, deadlines."""
from __future__ import annotations

import time

import numpy as np
import pytest

from heubase.mis import construct, graph, local_search, proposal, repair, rlsa, schedule
from mis_helpers import csr, cycle, is_maximal_independent, load_mis_module

instances = load_mis_module("instances")
SMALL = instances.rb_graph("small", 11)
LARGE = instances.rb_graph("large", 12, "RB-800-1200")


@pytest.mark.parametrize("build", [construct.greedy_min_degree, construct.random_maximal,
                                   construct.reduce_then_greedy])
@pytest.mark.parametrize("g", [SMALL, LARGE], ids=["small", "large"])
def test_constructors_give_maximal_independent_sets(build, g):
    mask = build(g.indptr, g.indices, np.random.default_rng(0))
    assert mask.dtype == bool and is_maximal_independent(g.indptr, g.indices, mask)
    assert mask.sum() <= g.info["n"]          # at most one vertex per clique


def test_min_degree_greedy_and_reductions_are_optimal_on_a_star_and_a_path():
    star = csr(5, [(0, 1), (0, 2), (0, 3), (0, 4)])
    assert np.flatnonzero(construct.greedy_min_degree(*star, np.random.default_rng(0))).tolist() == [1, 2, 3, 4]
    decision = construct.low_degree_reductions(*star)
    assert decision.tolist() == [-1, 1, 1, 1, 1]
    path = csr(5, [(0, 1), (1, 2), (2, 3), (3, 4)])       # MIS {0, 2, 4}
    assert (construct.low_degree_reductions(*path) == 1).sum() == 3
    assert construct.reduce_then_greedy(*path, np.random.default_rng(1)).sum() == 3
    # a 5-cycle has no vertex of degree <= 1: the kernel is everything
    assert (construct.low_degree_reductions(*cycle(5)) == 0).all()


@pytest.mark.parametrize("fix", [repair.greedy_repair, repair.low_degree_repair])
def test_repairs_turn_any_vector_into_a_maximal_independent_set(fix):
    rng = np.random.default_rng(3)
    for g in (SMALL, LARGE):
        for density in (0.0, 0.1, 0.5, 1.0):
            x = (rng.random(g.num_nodes) < density).astype(np.float32)
            mask = fix(g.indptr, g.indices, x)
            assert is_maximal_independent(g.indptr, g.indices, mask)
    # an independent input is kept whole
    indep = construct.random_maximal(SMALL.indptr, SMALL.indices, rng)
    assert (fix(SMALL.indptr, SMALL.indices, indep) >= indep).all()


def test_fill_maximal_keeps_the_input_and_completes_it():
    indptr, indices = cycle(6)
    mask = repair.fill_maximal(indptr, indices, np.array([1, 0, 0, 0, 0, 0], dtype=bool))
    assert mask[0] and is_maximal_independent(indptr, indices, mask)


def test_one_two_swaps_finds_the_swap_and_is_two_maximal():
    # x = 0 adjacent to 1 and 2 (not adjacent to each other), whose only set neighbour is 0
    indptr, indices = csr(4, [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)])
    start = np.array([True, False, False, False])
    assert np.flatnonzero(local_search.one_two_swaps(indptr, indices, start)).tolist() == [1, 2]
    g = LARGE
    start = construct.random_maximal(g.indptr, g.indices, np.random.default_rng(0))
    better = local_search.one_two_swaps(g.indptr, g.indices, start)
    assert is_maximal_independent(g.indptr, g.indices, better) and better.sum() >= start.sum()
    # 2-maximal: no set vertex has two non-adjacent 1-tight neighbours
    tight = graph.tightness(g.indptr, g.indices, better)
    adj = graph.adjacency(g.indptr, g.indices).toarray() > 0
    for x in np.flatnonzero(better):
        nb = g.indices[g.indptr[x]:g.indptr[x + 1]]
        ones = nb[tight[nb] == 1]
        assert all(adj[u, w] for i, u in enumerate(ones) for w in ones[i + 1:])


@pytest.mark.parametrize("search", [local_search.arw_ils, local_search.arw_restarts])
def test_iterated_local_search_never_loses_and_keeps_its_deadline(search):
    g = SMALL
    rng = np.random.default_rng(5)
    start = construct.random_maximal(g.indptr, g.indices, rng)
    began = time.perf_counter()
    found = search(g.indptr, g.indices, start, rng, began + 0.3)
    assert time.perf_counter() - began < 0.3 + 0.2
    assert is_maximal_independent(g.indptr, g.indices, found) and found.sum() >= start.sum()


def test_rlsa_returns_a_maximal_independent_set_within_its_deadline():
    for g, seconds in ((SMALL, 0.3), (LARGE, 0.6)):
        began = time.perf_counter()
        found = rlsa.rlsa(g.indptr, g.indices, np.random.default_rng(0), began + seconds, chains=8)
        assert time.perf_counter() - began < seconds + 0.25
        assert is_maximal_independent(g.indptr, g.indices, found)


def test_rlsa_ignores_a_repair_that_leaves_edges_inside():
    g = SMALL
    cheat = lambda indptr, indices, x: np.ones(len(indptr) - 1, dtype=bool)
    found = rlsa.rlsa(g.indptr, g.indices, np.random.default_rng(0), time.perf_counter() + 0.1, repair=cheat)
    assert graph.is_independent(g.indptr, g.indices, found)


def test_energy_delta_matches_recomputing_the_energy():
    indptr, indices = cycle(5)
    adj = graph.adjacency(indptr, indices)
    rng = np.random.default_rng(0)
    x = (rng.random((3, 5)) < 0.5).astype(np.float64)
    penalty = 1.7
    energy = lambda v: -v.sum() + penalty * 0.5 * v @ (adj @ v)
    delta = proposal.energy_delta(x, np.asarray((adj @ x.T).T), penalty)
    for c in range(3):
        for i in range(5):
            y = x[c].copy()
            y[i] = 1 - y[i]
            assert delta[c, i] == pytest.approx(energy(y) - energy(x[c]))
    for logits in (proposal.energy_gain_logits, proposal.conflict_escape_logits, proposal.free_vertex_logits):
        assert logits(x, np.asarray((adj @ x.T).T), penalty).shape == (3, 5)


@pytest.mark.parametrize("temp", [schedule.linear_temperature, schedule.geometric_temperature,
                                  schedule.cosine_temperature, schedule.cyclic_temperature])
def test_schedules_run_from_t_start_to_t_end_and_stay_positive(temp):
    assert temp(0.0, 2.0, 0.1) == pytest.approx(2.0)
    assert temp(1.0, 2.0, 0.1) == pytest.approx(0.1)
    assert all(temp(p / 20, 2.0, 0.1) > 0 for p in range(21))
