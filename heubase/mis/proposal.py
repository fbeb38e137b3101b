"""Flip proposals of the RLSA sampler: one logit per chain and vertex, higher = more likely to flip.

Every proposal has the signature ``f(x, neighbour_sum, penalty) -> np.ndarray``:
``x [c, n]`` holds the 0/1 states of ``c`` chains (float), ``neighbour_sum [c, n]``
how many chosen neighbours each vertex has (``x @ A``), ``penalty`` the weight
of an edge inside the set in the energy ``E(x) = -sum(x) + penalty * edges(x)``.
Flipping vertex ``i`` changes the energy by exactly
``dE_i = (1 - 2 x_i) (penalty * neighbour_sum_i - 1)``. Each returns
``flip_logits [c, n]``; the sampler divides them by the temperature and turns
them into flip probabilities with a softmax per chain.
"""
import numpy as np


def energy_delta(x: np.ndarray, neighbour_sum: np.ndarray, penalty: float) -> np.ndarray:
    """Exact energy change of flipping each vertex alone. Returns ``delta [c, n]``.

    >>> energy_delta(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 2.0).tolist()
    [[1.0, -1.0]]
    """
    return (1.0 - 2.0 * x) * (penalty * neighbour_sum - 1.0)


def energy_gain_logits(x: np.ndarray, neighbour_sum: np.ndarray, penalty: float) -> np.ndarray:
    """Langevin proposal: ``-dE / 2`` (a flip that lowers the energy is favoured). Returns ``flip_logits [c, n]``."""
    return -0.5 * energy_delta(x, neighbour_sum, penalty)


def conflict_escape_logits(x: np.ndarray, neighbour_sum: np.ndarray, penalty: float, push: float = 1.0) -> np.ndarray:
    """``-dE / 2`` plus ``push`` for chosen vertices that have chosen neighbours (leave conflicts faster).

    Returns ``flip_logits [c, n]``.
    """
    conflicted = (x > 0.5) & (neighbour_sum > 0.5)
    return -0.5 * energy_delta(x, neighbour_sum, penalty) + push * conflicted


def free_vertex_logits(x: np.ndarray, neighbour_sum: np.ndarray, penalty: float, pull: float = 1.0) -> np.ndarray:
    """``-dE / 2`` plus ``pull`` for unchosen vertices with no chosen neighbour (grow the set faster).

    Returns ``flip_logits [c, n]``.
    """
    free = (x < 0.5) & (neighbour_sum < 0.5)
    return -0.5 * energy_delta(x, neighbour_sum, penalty) + pull * free
