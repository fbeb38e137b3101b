"""Entry-function signature of TSP-GLS (shown to the code generator as the function-signature prompt)."""
import numpy as np


def solve_tsp(distance: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    """Find a short closed tour through every city within ``time_limit_s`` seconds.

    Called once per instance; the whole search happens inside this call. The
    caller times the call and rejects the solver (too_slow) if it takes longer
    than ``time_limit_s`` (plus a small grace), so check the clock
    (``time.perf_counter()``) inside long loops and return the best tour found.

    Args:
        distance: float64 ``[n, n]`` symmetric matrix, ``distance[i, j] >= 0`` the
            cost between cities i and j, zero diagonal. Yours to modify.
        time_limit_s: seconds this call may take.
        seed: an integer to seed any randomness with (the caller passes 0).

    Returns:
        ``tour [n]``: a permutation of ``0 .. n-1`` (integers); the tour visits the
        cities in that order and returns from the last to the first. The caller
        checks it and computes its length itself.
    """
    raise NotImplementedError
