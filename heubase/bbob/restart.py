"""When to restart a strategy run, and how large the next run's population is (IPOP and BIPOP CMA-ES)."""
from __future__ import annotations

import numpy as np


def should_restart(state: dict, history: list, tol_fun: float = 1e-12, tol_x: float = 1e-12) -> bool:
    """Whether a CMA-ES run (``state`` of :mod:`heubase.bbob.cmaes`) has converged or stalled.

    ``history`` holds the best fitness of each generation. Stops when the step
    has shrunk below ``tol_x`` times the initial step, the covariance is
    ill-conditioned (condition number above 1e14), the best values of the
    last ``10 + 30 d / lam`` generations lie within ``tol_fun`` of each other,
    or the run made no progress over its last third (after 100 generations).
    Returns ``stop`` (bool).
    """
    d, lam = state["d"], state["lam"]
    if state["sigma"] * float(state["D"].max()) < tol_x * state["sigma0"]:
        return True
    if float(state["D"].max()) > 1e7 * float(state["D"].min()):
        return True
    window = int(10 + np.ceil(30 * d / lam))
    if len(history) >= window:
        recent = np.asarray(history[-window:], dtype=np.float64)
        if np.all(np.isfinite(recent)) and recent.max() - recent.min() < tol_fun * max(1.0, abs(recent.min())):
            return True
    if len(history) >= max(100, 3 * window):
        third = len(history) // 3
        if min(history[-third:]) >= min(history[:-third]):
            return True
    return not np.all(np.isfinite(state["mean"]))


def ipop_popsize(restart: int, popsize0: int, budget_left: int, rng: np.random.Generator,
                 factor: float = 2.0) -> int:
    """IPOP: the population grows by ``factor`` at every restart (more global search each time).

    Returns ``popsize`` (at most a tenth of the evaluations left, at least 4).
    """
    size = int(round(popsize0 * factor ** restart))
    return int(max(4, min(size, max(4, budget_left // 10))))


def bipop_popsize(restart: int, popsize0: int, budget_left: int, rng: np.random.Generator,
                  factor: float = 2.0) -> int:
    """BIPOP: odd restarts use a large population (``popsize0 * factor**k``), even ones a small random one
    between ``popsize0`` and half the last large one (local restarts in between global ones).

    Returns ``popsize``.
    """
    large = popsize0 * factor ** ((restart + 1) // 2)
    if restart % 2 == 1:
        size = large
    else:
        size = popsize0 * (0.5 * large / popsize0) ** (rng.random() ** 2)
    return int(max(4, min(int(round(size)), max(4, budget_left // 10))))


def fixed_popsize(restart: int, popsize0: int, budget_left: int, rng: np.random.Generator) -> int:
    """Plain restarts with the default population every time. Returns ``popsize``."""
    return int(max(4, popsize0))
