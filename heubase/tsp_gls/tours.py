"""Plain tour helpers: length, positions, the tour's edges and nearest-neighbour lists."""
from __future__ import annotations

import numpy as np


def tour_length(distance: np.ndarray, tour: np.ndarray) -> float:
    """Length of the closed tour ``tour`` (a permutation of the cities) under ``distance``.

    >>> d = np.array([[0., 1., 2.], [1., 0., 1.], [2., 1., 0.]])
    >>> tour_length(d, np.array([0, 1, 2]))
    4.0
    """
    tour = np.asarray(tour)
    return float(distance[tour, np.roll(tour, -1)].sum())


def tour_positions(tour: np.ndarray) -> np.ndarray:
    """``pos [n]`` with ``tour[pos[c]] == c`` for every city ``c``."""
    pos = np.empty(len(tour), dtype=np.int64)
    pos[tour] = np.arange(len(tour))
    return pos


def tour_edges(tour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tour's ``n`` edges as two city arrays ``(u, v)``: edge k joins ``tour[k]`` and ``tour[k + 1]``."""
    tour = np.asarray(tour)
    return tour, np.roll(tour, -1)


def neighbour_lists(distance: np.ndarray, k: int = 10) -> np.ndarray:
    """Returns ``neighbours [n, k]``: the ``k`` nearest other cities of every city, nearest first.

    ``k`` is cut to ``n - 1``; a city is never its own neighbour (even at distance 0).

    >>> d = np.array([[0., 1., 5.], [1., 0., 2.], [5., 2., 0.]])
    >>> neighbour_lists(d, 1).ravel().tolist()
    [1, 0, 1]
    """
    n = len(distance)
    k = max(1, min(k, n - 1))
    d = np.array(distance, dtype=np.float64, copy=True)
    np.fill_diagonal(d, np.inf)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
