"""Differential evolution (Storn & Price 1997): mutation strategies and crossovers, vectorised over the population.

Mutations return ``mutants [n, d]``, one per member of ``population [n, d]``
(``fitness [n]``, lower is better); crossovers mix each member with its mutant
and return ``trials [n, d]``. Points may leave the box: repair them (``boundary``).
"""
from __future__ import annotations

import numpy as np


def _distinct(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """For each row i, ``count`` distinct indices other than i (n must exceed count)."""
    keys = rng.random((n, n))
    np.fill_diagonal(keys, np.inf)
    return np.argsort(keys, axis=1)[:, :count]


def de_rand_1(population: np.ndarray, fitness: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """DE/rand/1: ``x_r1 + F (x_r2 - x_r3)`` (the most exploratory). Returns ``mutants [n, d]``."""
    r = _distinct(len(population), 3, rng)
    return population[r[:, 0]] + scale * (population[r[:, 1]] - population[r[:, 2]])


def de_best_1(population: np.ndarray, fitness: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """DE/best/1: ``x_best + F (x_r1 - x_r2)`` (fast, greedy). Returns ``mutants [n, d]``."""
    r = _distinct(len(population), 2, rng)
    best = population[int(np.argmin(fitness))]
    return best + scale * (population[r[:, 0]] - population[r[:, 1]])


def de_current_to_best_1(population: np.ndarray, fitness: np.ndarray, scale: float,
                         rng: np.random.Generator) -> np.ndarray:
    """DE/current-to-best/1: ``x_i + F (x_best - x_i) + F (x_r1 - x_r2)``. Returns ``mutants [n, d]``."""
    r = _distinct(len(population), 2, rng)
    best = population[int(np.argmin(fitness))]
    return population + scale * (best - population) + scale * (population[r[:, 0]] - population[r[:, 1]])


def de_current_to_pbest_1(population: np.ndarray, fitness: np.ndarray, scale: float, rng: np.random.Generator,
                          p: float = 0.1) -> np.ndarray:
    """DE/current-to-pbest/1 (JADE): like current-to-best, towards a random one of the best ``p`` fraction.

    Returns ``mutants [n, d]``.
    """
    n = len(population)
    top = np.argsort(fitness, kind="stable")[: max(1, int(np.ceil(p * n)))]
    pbest = population[rng.choice(top, size=n)]
    r = _distinct(n, 2, rng)
    return population + scale * (pbest - population) + scale * (population[r[:, 0]] - population[r[:, 1]])


def binomial_crossover(population: np.ndarray, mutants: np.ndarray, rate: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Binomial crossover: each coordinate from the mutant with probability ``rate`` (at least one always).

    Returns ``trials [n, d]``.
    """
    n, d = population.shape
    take = rng.random((n, d)) < rate
    take[np.arange(n), rng.integers(0, d, size=n)] = True
    return np.where(take, mutants, population)


def exponential_crossover(population: np.ndarray, mutants: np.ndarray, rate: float,
                          rng: np.random.Generator) -> np.ndarray:
    """Exponential crossover: a cyclic run of coordinates from the mutant, starting anywhere, continuing with
    probability ``rate`` (keeps neighbouring variables together). Returns ``trials [n, d]``.
    """
    n, d = population.shape
    start = rng.integers(0, d, size=n)
    length = np.minimum(rng.geometric(max(1e-12, 1 - min(rate, 1 - 1e-12)), size=n), d)
    offset = (np.arange(d)[None, :] - start[:, None]) % d
    return np.where(offset < length[:, None], mutants, population)
