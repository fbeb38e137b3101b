"""Differential evolution for global search, then local refinement of the best point.

A population of POP_PER_DIM * dim points evolves by DE for GLOBAL_SHARE of the
budget: func_1 makes mutants, func_3 crosses them with their parents, func_2
brings the trials into the box, and a trial replaces its parent when it is not
worse. The rest of the budget refines the best point with func_4, repeatedly
(with a smaller step each time) until the budget or the time is spent.
"""
import time

import numpy as np

from heubase.bbob.budget import Tracker

#Hyperparameter#
MAX_TIME = 5.0
POP_PER_DIM = 5  # int
SCALE_F = 0.5
CROSS_RATE = 0.9
GLOBAL_SHARE = 0.5
LOCAL_SIGMA = 0.05
TIME_SHARE = 0.8
#Hyperparameter#


def func_1(population: np.ndarray, fitness: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    # Purpose: DE mutation: return ``mutants [n, d]``, one per member of population [n, d] (fitness [n], lower is
    # better), built from differences of members scaled by ``scale``.
    pass


def func_2(points: np.ndarray, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    # Purpose: boundary handling: return ``in_box [n, d]``, the points brought into the box [lower, upper]^d
    # (rows in the same order; points already inside unchanged).
    pass


def func_3(population: np.ndarray, mutants: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    # Purpose: DE crossover: return ``trials [n, d]`` mixing each member of population with its mutant, taking
    # coordinates from the mutant with a probability governed by ``rate``.
    pass


def func_4(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int, rng: np.random.Generator) -> np.ndarray:
    # Purpose: local refinement: return ``refined [d]``, the best point found starting at x0 with initial step sigma0,
    # spending at most ``budget`` evaluations of evaluate (a Tracker: evaluate(points [n, d]) -> values [n]).
    pass


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
