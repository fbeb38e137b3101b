"""HeuBase for BBOB: invariants of every component family, and that the strategies actually optimise."""
from __future__ import annotations

import numpy as np
import pytest

from heubase.bbob import boundary, cmaes, de, design, local, restart
from heubase.bbob.budget import Tracker


def sphere(x: np.ndarray) -> np.ndarray:
    return ((np.atleast_2d(x) - 1.0) ** 2).sum(axis=1)


@pytest.mark.parametrize("repair", [boundary.clip_to_box, boundary.reflect_into_box, boundary.wrap_into_box,
                                    lambda p, lo, up: boundary.resample_outside(p, lo, up, np.random.default_rng(0))])
def test_boundary_repairs_land_in_the_box_and_keep_inside_points(repair):
    rng = np.random.default_rng(1)
    points = rng.uniform(-20, 20, (200, 4))
    fixed = repair(points, -5.0, 5.0)
    assert fixed.shape == points.shape and ((fixed >= -5) & (fixed <= 5)).all()
    inside = (np.abs(points) <= 5).all(axis=1)
    assert np.array_equal(fixed[inside], points[inside])


def test_reflection_and_wrapping_by_hand():
    assert boundary.reflect_into_box(np.array([[5.5, -6.0, 16.0]]), -5.0, 5.0).tolist() == [[4.5, -4.0, -4.0]]
    assert boundary.wrap_into_box(np.array([[5.5, -6.0]]), -5.0, 5.0).tolist() == [[-4.5, 4.0]]


@pytest.mark.parametrize("mutate", [de.de_rand_1, de.de_best_1, de.de_current_to_best_1, de.de_current_to_pbest_1])
def test_de_mutations_are_member_plus_scaled_differences(mutate):
    rng = np.random.default_rng(2)
    population = rng.integers(-3, 4, (12, 3)).astype(float)
    fitness = sphere(population)
    mutants = mutate(population, fitness, 0.0, rng)  # F = 0 leaves only the base vectors
    assert mutants.shape == population.shape
    assert all(any(np.array_equal(m, p) for p in population) for m in mutants)
    if mutate is de.de_best_1:
        assert (mutants == population[np.argmin(fitness)]).all()


@pytest.mark.parametrize("cross", [de.binomial_crossover, de.exponential_crossover])
@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0])
def test_crossovers_take_each_coordinate_from_parent_or_mutant(cross, rate):
    rng = np.random.default_rng(3)
    population, mutants = np.zeros((50, 6)), np.ones((50, 6))
    trials = cross(population, mutants, rate, rng)
    assert set(np.unique(trials)) <= {0.0, 1.0}
    assert (trials.sum(axis=1) >= 1).all()  # at least one coordinate from the mutant
    if rate == 1.0:
        assert (trials == 1).all()


@pytest.mark.parametrize("make", [design.uniform_design, design.latin_hypercube, design.opposition_design,
                                  design.halton_design])
def test_designs_fill_the_box(make):
    points = make(40, 3, -5.0, 5.0, np.random.default_rng(4))
    assert points.shape == (40, 3) and ((points >= -5) & (points <= 5)).all()
    assert len(np.unique(points, axis=0)) == 40


def test_latin_hypercube_has_one_point_per_stratum():
    points = design.latin_hypercube(10, 4, 0.0, 10.0, np.random.default_rng(5))
    for j in range(4):
        assert sorted(np.floor(points[:, j]).astype(int).tolist()) == list(range(10))


def test_cma_state_and_samplers():
    state = cmaes.new_state(np.zeros(4), 0.5, 10)
    assert state["mu"] == 5 and state["weights"][0] > state["weights"][-1]
    assert state["weights"].sum() == pytest.approx(1)
    for sample in (cmaes.sample_gaussian, cmaes.sample_mirrored, cmaes.sample_orthogonal):
        offspring = sample(state, np.random.default_rng(6))
        assert offspring.shape == (10, 4) and np.isfinite(offspring).all()
    mirrored = cmaes.sample_mirrored(state, np.random.default_rng(7))
    assert np.allclose(mirrored[:5], -mirrored[5:])


@pytest.mark.parametrize("update", [cmaes.cma_update, cmaes.sep_cma_update, cmaes.csa_update])
def test_es_updates_converge_on_a_shifted_sphere(update):
    rng = np.random.default_rng(8)
    state = cmaes.new_state(np.full(5, -3.0), 1.0, 10)
    for _ in range(400):
        offspring = cmaes.sample_gaussian(state, rng)
        state = update(state, offspring, sphere(offspring))
    assert sphere(state["mean"])[0] < 1e-8
    assert np.allclose(state["C"], state["C"].T)
    assert np.allclose((state["B"] * state["D"] ** 2) @ state["B"].T, state["C"], atol=1e-6 * np.abs(state["C"]).max())


def test_cma_learns_an_ill_conditioned_axis():
    rng = np.random.default_rng(9)
    scales = np.array([1.0, 1e3])
    state = cmaes.new_state(np.array([2.0, 2.0]), 1.0, 8)
    for _ in range(300):
        offspring = cmaes.sample_gaussian(state, rng)
        state = cmaes.cma_update(state, offspring, ((offspring * scales) ** 2).sum(axis=1))
    assert state["D"].max() / state["D"].min() > 100  # the covariance stretched along the flat axis


def test_restart_rules():
    rng = np.random.default_rng(10)
    assert [restart.ipop_popsize(k, 10, 10 ** 6, rng) for k in range(4)] == [10, 20, 40, 80]
    assert restart.ipop_popsize(5, 10, 200, rng) == 20  # at most a tenth of what is left
    sizes = [restart.bipop_popsize(k, 10, 10 ** 6, rng) for k in range(1, 7)]
    assert sizes[0] == 20 and sizes[2] == 40 and sizes[4] == 80
    assert all(10 <= s <= 0.5 * 2 ** ((k + 1) // 2) * 10 for k, s in zip((2, 4, 6), sizes[1::2]))
    assert restart.fixed_popsize(3, 10, 100, rng) == 10
    state = cmaes.new_state(np.zeros(3), 1.0, 6)
    assert not restart.should_restart(state, [1.0, 0.5])
    state["sigma"] = 1e-14
    assert restart.should_restart(state, [1.0])
    flat = cmaes.new_state(np.zeros(3), 1.0, 6)
    assert restart.should_restart(flat, [2.0] * 30)


def test_tracker_never_exceeds_the_budget_and_keeps_the_best():
    calls = []

    def objective(x):
        calls.append(len(x))
        return sphere(x)

    tracker = Tracker(objective, 7, -5.0, 5.0)
    values = tracker(np.array([[1.0, 1.0], [9.0, 9.0], [0.0, 0.0]]))
    assert values.tolist() == [0.0, 32.0, 2.0]  # (9, 9) was clipped to (5, 5): 16 + 16
    assert np.array_equal(tracker.best_x, [1.0, 1.0]) and tracker.best_f == 0.0
    tail = tracker(np.zeros((10, 2)))
    assert tail[:4].tolist() == [2.0] * 4 and np.isinf(tail[4:]).all()
    assert sum(calls) == 7 and tracker.exhausted
    assert tracker(np.zeros((3, 2))).tolist() == [np.inf] * 3 and sum(calls) == 7


@pytest.mark.parametrize("refine", [local.nelder_mead, local.one_plus_one_es, local.coordinate_search,
                                    local.cma_local])
def test_local_refiners_respect_their_budget_and_improve(refine):
    rng = np.random.default_rng(11)
    tracker = Tracker(sphere, 10 ** 6, -5.0, 5.0)
    x0 = np.array([-2.0, 3.0, 0.5])
    x = refine(tracker, x0, 0.5, 300, rng)
    assert tracker.used <= 300 and x.shape == (3,)
    assert sphere(x)[0] < 1e-2 * sphere(x0)[0]
    spent = Tracker(sphere, 5, -5.0, 5.0)
    refine(spent, x0, 0.5, 300, rng)
    assert spent.used <= 5
