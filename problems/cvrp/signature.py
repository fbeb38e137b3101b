"""Entry-function signature of the CVRP (shown to the code generator as the function-signature prompt)."""
import numpy as np


def solve_cvrp(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
               seed: int) -> np.ndarray:
    """Route capacity-limited vehicles from one depot so that every customer is served once, at least total length.

    Node 0 is the depot, nodes ``1..n`` the customers. The fleet is unlimited
    and identical; each route leaves the depot, visits customers and returns to
    the depot, and the demands it serves sum to at most ``capacity``. The cost
    is the total Euclidean length of the routes (float, no rounding); the caller
    recomputes it from the returned solution.

    Args:
        coords: float64 ``[n+1, 2]``, the depot first, then the customers.
        demands: float64 ``[n+1]`` (integer values), ``demands[0] == 0``,
            every customer's demand in ``[1, capacity]``.
        capacity: vehicle capacity.
        time_limit_s: wall-clock budget of this call in seconds; return before it
            (the caller allows 10 % + 1 s of slack and rejects slower solvers).
        seed: seed for any randomness (the same seed should give the same result).

    Returns:
        int ``[m]`` array of node ids with the depot 0 between routes, e.g.
        ``[0, 3, 1, 0, 2, 5, 4, 0]`` for the routes ``3 1`` and ``2 5 4``
        (a tuple or list of per-route arrays is accepted too).
    """
    raise NotImplementedError
