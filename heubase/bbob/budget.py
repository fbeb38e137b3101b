"""The evaluation budget and the best point so far, in one object every component shares."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


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
