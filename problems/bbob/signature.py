"""Entry-function signature of BBOB black-box optimisation (shown to the code generator)."""
from typing import Callable

import numpy as np


def optimise(objective: Callable[[np.ndarray], np.ndarray], dim: int, lower: float, upper: float,
             budget: int, seed: int) -> np.ndarray:
    """Minimise a black-box function over the box ``[lower, upper]^dim`` with at most ``budget`` evaluations.

    Nothing about the function is known besides its values: not its formula,
    its optimum, nor its optimal value. It may be multimodal, ill-conditioned,
    non-separable or rugged (the 24 BBOB functions, Ackley, Griewank).

    Args:
        objective: ``objective(points)`` with ``points`` float64 ``[n, dim]``
            (``n >= 1``; one point ``[dim]`` is also accepted) returns float64
            ``[n]``, the values (lower is better). Evaluate many points per call:
            each call is a round trip to the caller. Every point must lie in the
            box; a call that would exceed ``budget`` evaluations in total, or
            that holds points outside the box or NaN/inf, raises ``HostRefused``
            (and evaluates nothing).
        dim: number of variables (5 to 20).
        lower, upper: the box bounds (the same for every variable).
        budget: the most points ``objective`` will evaluate in this run.
        seed: seed for the run's random numbers (use ``np.random.default_rng(seed)``).

    Returns:
        float64 ``[dim]``: the best point found, inside the box. The caller
        evaluates it itself (free of charge) and scores the gap between its
        value and the function's optimal value; MAX_TIME seconds of the
        solver's own time per run (the caller's time answering ``objective``
        is not counted).
    """
    raise NotImplementedError
