"""Bringing points back into the box ``[lower, upper]^d``: each function returns ``in_box [n, d]``."""
from __future__ import annotations

import numpy as np


def clip_to_box(points: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Projection: every coordinate outside the box is set to the nearest bound. Returns ``in_box [n, d]``."""
    return np.clip(points, lower, upper)


def reflect_into_box(points: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Mirror reflection at the bounds (repeatedly, so any distance folds back inside).

    Returns ``in_box [n, d]``.

    >>> reflect_into_box(np.array([[5.5, -6.0]]), -5.0, 5.0).tolist()
    [[4.5, -4.0]]
    """
    width = upper - lower
    folded = np.mod(np.asarray(points, dtype=np.float64) - lower, 2 * width)
    return lower + np.where(folded > width, 2 * width - folded, folded)


def wrap_into_box(points: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Toroidal wrapping: leaving at one bound re-enters at the other. Returns ``in_box [n, d]``."""
    return lower + np.mod(np.asarray(points, dtype=np.float64) - lower, upper - lower)


def resample_outside(points: np.ndarray, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Coordinates outside the box are redrawn uniformly inside it (keeps diversity near the bounds).

    Returns ``in_box [n, d]``.
    """
    points = np.array(points, dtype=np.float64)
    outside = (points < lower) | (points > upper) | ~np.isfinite(points)
    points[outside] = rng.uniform(lower, upper, size=int(outside.sum()))
    return points
