"""Entry-function signature of maximum independent set (shown to the code generator as the function-signature prompt)."""
import numpy as np


def solve_mis(indptr: np.ndarray, indices: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    """Return a large independent set of the graph: vertex ids no two of which are adjacent.

    The graph is undirected and simple, given in CSR form: vertex ``v``'s
    neighbours are ``indices[indptr[v]:indptr[v + 1]]`` (sorted; every edge is
    stored in both directions; no self-loops). The caller checks the returned set
    (ids in range, no repeats, no edge inside) and counts it itself: a set with an
    edge inside makes the whole candidate invalid. The call must return within
    ``time_limit_s`` seconds (a small grace is allowed; beyond it the candidate is
    rejected as too slow), so check ``time.perf_counter()`` against a deadline.

    Args:
        indptr: int64 ``[n + 1]``, CSR row pointers (``indptr[0] == 0``).
        indices: int64 ``[2 m]``, concatenated neighbour lists.
        time_limit_s: wall-clock budget of this call in seconds (> 0).
        seed: an integer to seed any random generator with (runs are then repeatable).

    Returns:
        integer array ``[k]`` of distinct vertex ids in ``[0, n)`` forming an independent set.
    """
    raise NotImplementedError
