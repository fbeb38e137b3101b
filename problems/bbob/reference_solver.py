"""Reference optimiser (trusted, run in the host process): CMA-ES of the ``cma`` package with default settings.

Starts at a uniform random point of the box with ``sigma0 = 0.3 (upper - lower)``
(the usual choice), uses ``cma``'s own bound handling, and restarts with the
default population whenever ``cma`` stops before the budget is spent (its
defaults stop a run early on convergence). Returns the best point evaluated.
"""
from __future__ import annotations

import warnings

import numpy as np


def optimise(objective, dim: int, lower: float, upper: float, budget: int, seed: int) -> np.ndarray:
    with warnings.catch_warnings():  # cma warns that matplotlib (for its plots) is missing
        warnings.simplefilter("ignore")
        import cma

    rng = np.random.default_rng(seed)
    used, best_x, best_f = 0, None, np.inf
    while used < budget:
        x0 = rng.uniform(lower, upper, dim)
        options = {"bounds": [lower, upper], "seed": int(rng.integers(1, 2 ** 31)), "verbose": -9,
                   "maxfevals": budget - used}
        es = cma.CMAEvolutionStrategy(x0, 0.3 * (upper - lower), options)
        while not es.stop() and used < budget:
            points = np.asarray(es.ask())[: budget - used]
            values = np.asarray(objective(points), dtype=np.float64)
            used += len(points)
            k = int(np.argmin(values))
            if values[k] < best_f:
                best_x, best_f = points[k].copy(), float(values[k])
            if len(points) < es.popsize:
                break
            es.tell(list(points), list(values))
    return best_x if best_x is not None else np.full(dim, 0.5 * (lower + upper))
