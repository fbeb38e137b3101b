"""GLS utilities of the current tour's edges.

Every function here takes the guide values and the penalties of the tour's
``m`` edges (two float64 arrays ``[m]``) and returns ``utility [m]``: GLS
penalises the edge(s) of highest utility. Voudouris & Tsang's rule is
``guide / (1 + penalty)``: bad edges are penalised first, and an edge already
penalised often must look much worse to be penalised again.
"""
from __future__ import annotations

import numpy as np


def classic_utility(edge_guide: np.ndarray, edge_penalty: np.ndarray) -> np.ndarray:
    """Voudouris-Tsang utility: returns ``utility [m]`` = ``edge_guide / (1 + edge_penalty)``.

    >>> classic_utility(np.array([2.0, 3.0]), np.array([0.0, 2.0])).tolist()
    [2.0, 1.0]
    """
    return edge_guide / (1.0 + edge_penalty)


def damped_utility(edge_guide: np.ndarray, edge_penalty: np.ndarray, power: float = 2.0) -> np.ndarray:
    """Utility that shies away faster from edges already penalised: returns ``utility [m]`` =
    ``edge_guide / (1 + edge_penalty) ** power`` (``power`` > 1 spreads penalties over more edges)."""
    return edge_guide / np.power(1.0 + edge_penalty, power)


def relative_utility(edge_guide: np.ndarray, edge_penalty: np.ndarray, share: float = 1.0) -> np.ndarray:
    """Utility relative to the tour's mean edge: returns ``utility [m]`` =
    ``(edge_guide / mean guide) ** share / (1 + edge_penalty)``; ``share`` < 1 flattens the preference for long edges."""
    scale = float(np.mean(edge_guide)) or 1.0
    return np.power(np.maximum(edge_guide / scale, 0.0), share) / (1.0 + edge_penalty)


def log_utility(edge_guide: np.ndarray, edge_penalty: np.ndarray, rate: float = 1.0) -> np.ndarray:
    """Utility with logarithmic penalty decay: returns ``utility [m]`` = ``edge_guide / (1 + rate * log1p(edge_penalty))``
    (edges can be penalised again sooner than with the classic rule)."""
    return edge_guide / (1.0 + rate * np.log1p(edge_penalty))
