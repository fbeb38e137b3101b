# Evolved bbob solver (BEAM run bbob-seed0, program 12).
# Standalone: depends only on torch/numpy and the standard library.
# Validation fitness 4.4270; test fitness 2.7125.
# README.md beside this file says how it was produced and scored.
"""Differential evolution for global search, then local refinement of the best point.

A population of POP_PER_DIM * dim points evolves by DE for GLOBAL_SHARE of the
budget: func_1 makes mutants, func_3 crosses them with their parents, func_2
brings the trials into the box, and a trial replaces its parent when it is not
worse. The rest of the budget refines the best point with func_4, repeatedly
(with a smaller step each time) until the budget or the time is spent.
"""
from __future__ import annotations
import time

import numpy as np
from typing import Callable

#Hyperparameter#
MAX_TIME = 5.0
POP_PER_DIM = 8  # int
SCALE_F = 0.736772
CROSS_RATE = 0.724063
GLOBAL_SHARE = 0.183637
LOCAL_SIGMA = 0.0155815
TIME_SHARE = 0.810332
#Hyperparameter#


# inlined from heubase.bbob.budget
class Tracker:
    """Counts objective evaluations against ``budget``, keeps the best point, stops at ``deadline``.

    ``tracker(points)`` evaluates a float64 batch ``[n, d]`` (or one point ``[d]``)
    and returns its values ``[n]``. Points are clipped into the box before they
    are evaluated (a safety net: the caller refuses points outside it). Rows past
    the budget, or asked after ``deadline`` (a ``time.perf_counter()`` value), are
    not evaluated and get ``+inf``, so a loop over a spent tracker ends quickly:
    check :attr:`exhausted`.

    >>> t = Tracker(lambda x: (x ** 2).sum(axis=1), budget=3, lower=-5.0, upper=5.0)
    >>> t(np.array([[1.0, 2.0], [0.0, 1.0]])).tolist(), t.used, t.best_f
    ([5.0, 1.0], 2, 1.0)
    >>> t(np.zeros((2, 2))).tolist(), t.exhausted
    ([0.0, inf], True)
    """

    def __init__(self, objective: Callable[[np.ndarray], np.ndarray], budget: int, lower: float, upper: float,
                 deadline: float | None = None):
        self.objective = objective
        self.budget = int(budget)
        self.lower, self.upper = float(lower), float(upper)
        self.deadline = deadline
        self.used = 0
        self.best_x: np.ndarray | None = None
        self.best_f = float("inf")

    @property
    def left(self) -> int:
        """Evaluations still allowed (0 once the deadline has passed)."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            return 0
        return self.budget - self.used

    @property
    def exhausted(self) -> bool:
        return self.left <= 0

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        values = np.full(len(points), np.inf)
        count = min(len(points), max(self.left, 0))
        if count == 0:
            return values
        batch = np.clip(points[:count], self.lower, self.upper)
        batch = np.where(np.isfinite(batch), batch, 0.5 * (self.lower + self.upper))
        got = np.asarray(self.objective(batch), dtype=np.float64).reshape(-1)
        values[:count] = np.where(np.isfinite(got), got, np.inf)
        self.used += count
        k = int(np.argmin(values))
        if values[k] < self.best_f:
            self.best_f, self.best_x = float(values[k]), batch[k].copy()
        return values

    def best(self, fallback: np.ndarray | None = None) -> np.ndarray:
        """The best point evaluated so far (``fallback``, else the box centre, when none was)."""
        if self.best_x is not None:
            return self.best_x.copy()
        if fallback is not None:
            return np.clip(np.asarray(fallback, dtype=np.float64), self.lower, self.upper)
        raise ValueError("nothing was evaluated yet and no fallback point was given")


# inlined from heubase.bbob.de
def _distinct(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """For each row i, ``count`` distinct indices other than i (n must exceed count)."""
    keys = rng.random((n, n))
    np.fill_diagonal(keys, np.inf)
    return np.argsort(keys, axis=1)[:, :count]


# inlined from heubase.bbob.de
def de_rand_1(population: np.ndarray, fitness: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """DE/rand/1: ``x_r1 + F (x_r2 - x_r3)`` (the most exploratory). Returns ``mutants [n, d]``."""
    r = _distinct(len(population), 3, rng)
    return population[r[:, 0]] + scale * (population[r[:, 1]] - population[r[:, 2]])


# inlined from heubase.bbob.boundary
def reflect_into_box(points: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Mirror reflection at the bounds (repeatedly, so any distance folds back inside).

    Returns ``in_box [n, d]``.

    >>> reflect_into_box(np.array([[5.5, -6.0]]), -5.0, 5.0).tolist()
    [[4.5, -4.0]]
    """
    width = upper - lower
    folded = np.mod(np.asarray(points, dtype=np.float64) - lower, 2 * width)
    return lower + np.where(folded > width, 2 * width - folded, folded)


# inlined from heubase.bbob.de
def binomial_crossover(population: np.ndarray, mutants: np.ndarray, rate: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Binomial crossover: each coordinate from the mutant with probability ``rate`` (at least one always).

    Returns ``trials [n, d]``.
    """
    n, d = population.shape
    take = rng.random((n, d)) < rate
    take[np.arange(n), rng.integers(0, d, size=n)] = True
    return np.where(take, mutants, population)


# inlined from heubase.bbob.local
def _limit(evaluate: Tracker, budget: int) -> int:
    """The tracker's ``used`` count at which this refinement must stop."""
    return evaluate.used + max(0, min(int(budget), evaluate.left))


# inlined from heubase.bbob.local
def _into_box(evaluate: Tracker, points: np.ndarray) -> np.ndarray:
    return np.clip(points, evaluate.lower, evaluate.upper)


# inlined from heubase.bbob.local
def nelder_mead(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int,
                rng: np.random.Generator) -> np.ndarray:
    """Nelder-Mead simplex with the dimension-adaptive coefficients of Gao & Han (2012).

    The initial simplex is ``x0`` plus ``sigma0`` along each axis. Returns ``refined [d]``.
    """
    stop = _limit(evaluate, budget)
    x0 = _into_box(evaluate, np.asarray(x0, dtype=np.float64))
    d = x0.size
    alpha, beta, gamma, delta = 1.0, 1.0 + 2.0 / d, 0.75 - 0.5 / d, 1.0 - 1.0 / max(d, 2)
    simplex = _into_box(evaluate, np.vstack([x0, x0 + sigma0 * np.eye(d)]))
    values = evaluate(simplex)
    while evaluate.used < stop and not evaluate.exhausted:
        order = np.argsort(values, kind="stable")
        simplex, values = simplex[order], values[order]
        if np.max(np.abs(simplex[1:] - simplex[0])) < 1e-13 * max(1.0, sigma0):
            break
        centroid = simplex[:-1].mean(axis=0)
        reflected = _into_box(evaluate, centroid + alpha * (centroid - simplex[-1]))
        f_r = evaluate(reflected)[0]
        if values[0] <= f_r < values[-2]:
            simplex[-1], values[-1] = reflected, f_r
        elif f_r < values[0]:
            expanded = _into_box(evaluate, centroid + beta * (reflected - centroid))
            f_e = evaluate(expanded)[0]
            simplex[-1], values[-1] = (expanded, f_e) if f_e < f_r else (reflected, f_r)
        else:
            outside = f_r < values[-1]
            target = reflected if outside else simplex[-1]
            contracted = _into_box(evaluate, centroid + gamma * (target - centroid))
            f_c = evaluate(contracted)[0]
            if f_c < (f_r if outside else values[-1]):
                simplex[-1], values[-1] = contracted, f_c
            else:
                simplex[1:] = simplex[0] + delta * (simplex[1:] - simplex[0])
                values[1:] = evaluate(simplex[1:])
    best = int(np.argmin(values))
    return simplex[best].copy()


def func_1(population: np.ndarray, fitness: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    return de_rand_1(population, fitness, scale, rng)


def func_2(points: np.ndarray, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    return reflect_into_box(points, lower, upper)


def func_3(population: np.ndarray, mutants: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    return binomial_crossover(population, mutants, rate, rng)


def func_4(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int, rng: np.random.Generator) -> np.ndarray:
    return nelder_mead(evaluate, x0, sigma0, budget, rng)


def optimise(objective, dim: int, lower: float, upper: float, budget: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    evaluate = Tracker(objective, budget, lower, upper, deadline=time.perf_counter() + min(TIME_SHARE, 0.9) * MAX_TIME)
    size = max(5, POP_PER_DIM * dim)
    population = rng.uniform(lower, upper, (size, dim))
    fitness = evaluate(population)
    global_end = int(GLOBAL_SHARE * budget)
    while evaluate.used + size <= global_end and not evaluate.exhausted:
        trials = func_2(func_3(population, func_1(population, fitness, SCALE_F, rng), CROSS_RATE, rng),
                        lower, upper, rng)
        values = evaluate(trials)
        better = values <= fitness
        population[better], fitness[better] = trials[better], values[better]
    sigma = max(float(np.std(population, axis=0).mean()), LOCAL_SIGMA * (upper - lower))
    x = evaluate.best(population[int(np.argmin(fitness))])
    while not evaluate.exhausted:
        used = evaluate.used
        x = func_4(evaluate, evaluate.best(x), sigma, max(1, evaluate.left // 2), rng)
        if evaluate.used == used:
            break
        sigma = max(0.5 * sigma, 1e-8 * (upper - lower))
    return evaluate.best(x)
