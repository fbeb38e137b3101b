"""Edge guides for GLS: how bad each edge looks before the search starts.

Every function takes the symmetric ``distance [n, n]`` matrix and returns
``guide [n, n]`` (float64, finite, >= 0, symmetric): the numerator of the GLS
utility ``guide / (1 + penalty)`` (ReEvo's and BEAM's evolved "heuristic" for
TSP-GLS). The classic choice is the distance itself; the others emphasise edges
that are long *for their endpoints*, which an optimal tour rarely uses.
"""
from __future__ import annotations

import numpy as np


def _clean(guide: np.ndarray) -> np.ndarray:
    guide = np.nan_to_num(np.asarray(guide, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    guide = np.maximum(guide, 0.0)
    return 0.5 * (guide + guide.T)


def distance_guide(distance: np.ndarray) -> np.ndarray:
    """Classic GLS guide (Voudouris & Tsang): returns ``guide [n, n]`` = the distance itself.

    >>> distance_guide(np.array([[0., 2.], [2., 0.]])).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    return _clean(distance)


def power_guide(distance: np.ndarray, exponent: float = 1.5) -> np.ndarray:
    """Normalised distance to a power: returns ``guide [n, n]`` = ``(distance / max distance) ** exponent``
    (``exponent`` > 1 concentrates penalties on the longest edges)."""
    top = float(np.max(distance)) or 1.0
    return _clean(np.power(np.maximum(distance, 0.0) / top, exponent))


def nearest_excess_guide(distance: np.ndarray, k: int = 5, floor: float = 0.1) -> np.ndarray:
    """Excess over the endpoints' k-th nearest-neighbour distances: returns ``guide [n, n]`` =
    ``max(d_ij - (r_i + r_j) / 2, 0) + floor * d_ij``, ``r_i`` the distance from i to its k-th nearest city
    (edges longer than what is local for both ends look worst)."""
    n = len(distance)
    k = max(1, min(int(k), n - 1))
    d = np.array(distance, dtype=np.float64, copy=True)
    np.fill_diagonal(d, np.inf)
    radius = np.partition(d, k - 1, axis=1)[:, k - 1]
    np.fill_diagonal(d, 0.0)
    return _clean(np.maximum(d - 0.5 * (radius[:, None] + radius[None, :]), 0.0) + floor * d)


def rank_guide(distance: np.ndarray, blend: float = 0.5) -> np.ndarray:
    """Neighbour-rank guide: returns ``guide [n, n]`` mixing the normalised distance with the mean rank of the
    edge in its endpoints' sorted neighbour lists (rank / n), weights ``1 - blend`` and ``blend``."""
    n = len(distance)
    d = np.array(distance, dtype=np.float64, copy=True)
    np.fill_diagonal(d, np.inf)
    rank = np.empty((n, n), dtype=np.float64)
    np.put_along_axis(rank, np.argsort(d, axis=1, kind="stable"), np.arange(n, dtype=np.float64)[None, :], axis=1)
    np.fill_diagonal(d, 0.0)
    top = float(np.max(d)) or 1.0
    mean_rank = 0.5 * (rank + rank.T) / max(n - 1, 1)
    np.fill_diagonal(mean_rank, 0.0)
    return _clean((1.0 - blend) * d / top + blend * mean_rank)


def centred_guide(distance: np.ndarray, shift: float = 0.5) -> np.ndarray:
    """Distance minus a share of the endpoints' mean distances: returns ``guide [n, n]`` =
    ``max(d_ij - shift * (m_i + m_j) / 2, 0) + 1e-3 * d_ij``, ``m_i`` the mean distance from city i
    (a crude reduced cost: edges long compared with their endpoints' typical distance)."""
    d = np.asarray(distance, dtype=np.float64)
    n = len(d)
    mean = d.sum(axis=1) / max(n - 1, 1)
    return _clean(np.maximum(d - shift * 0.5 * (mean[:, None] + mean[None, :]), 0.0) + 1e-3 * d)
