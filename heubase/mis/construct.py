"""Start sets: build a maximal independent set from scratch.

Every constructor has the signature ``f(indptr, indices, rng) -> np.ndarray``
and returns ``start_mask [n]`` (bool): an independent set to which no vertex
can be added. ``rng`` is a ``numpy.random.Generator`` (ties and noise).
"""
import numpy as np

from heubase.mis.graph import degrees


def _neighbours(indptr: np.ndarray, indices: np.ndarray, v: int) -> np.ndarray:
    return indices[indptr[v]:indptr[v + 1]]


def greedy_min_degree(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator,
                      noise: float = 0.3) -> np.ndarray:
    """Min-degree greedy: repeatedly take a vertex of least degree in the remaining graph, drop it and its neighbours.

    Degrees are updated as vertices disappear, so degree-0 and degree-1 vertices
    (always safe to take) come first. ``noise`` adds ``U[0, noise)`` to the degrees
    before each choice (0: ties by lowest id). Returns ``start_mask [n]``.

    >>> path = (np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2]))   # 0-1-2-3
    >>> np.flatnonzero(greedy_min_degree(*path, np.random.default_rng(0), noise=0.0)).tolist()
    [0, 2]
    """
    n = len(indptr) - 1
    return _min_degree_fill(indptr, indices, rng, noise, np.zeros(n, dtype=bool), np.ones(n, dtype=bool))


def _min_degree_fill(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator, noise: float,
                     chosen: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Add min-degree vertices of the subgraph induced by ``alive`` to ``chosen`` until nothing is alive."""
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    deg = np.bincount(rows, weights=alive[indices].astype(np.float64), minlength=n)
    while alive.any():
        key = np.where(alive, deg + (rng.random(n) * noise if noise > 0 else 0.0), np.inf)
        v = int(np.argmin(key))
        nbrs = _neighbours(indptr, indices, v)
        gone = np.concatenate(([v], nbrs[alive[nbrs]]))
        chosen[v] = True
        alive[gone] = False
        np.subtract.at(deg, np.concatenate([_neighbours(indptr, indices, int(u)) for u in gone]), 1.0)
    return chosen


def random_maximal(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random-order greedy: visit vertices in a random order, take each one with no chosen neighbour.

    Returns ``start_mask [n]``.
    """
    n = len(indptr) - 1
    chosen = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)
    for v in rng.permutation(n):
        if not blocked[v]:
            chosen[v] = True
            blocked[v] = True
            blocked[_neighbours(indptr, indices, int(v))] = True
    return chosen


def low_degree_reductions(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Exhaustive degree-0/1 reductions: a vertex with at most one remaining neighbour is in some maximum set.

    Takes such vertices, deletes them and their neighbours, and repeats until
    every remaining vertex has degree >= 2. Returns ``decision [n]`` (int8): 1 taken,
    -1 excluded, 0 undecided (the kernel).

    >>> decision = low_degree_reductions(np.array([0, 1, 3, 5, 6]), np.array([1, 0, 2, 1, 3, 2]))
    >>> int((decision == 1).sum()), int((decision == 0).sum())    # path 0-1-2-3: two taken, no kernel
    (2, 0)
    """
    n = len(indptr) - 1
    deg = degrees(indptr)
    decision = np.zeros(n, dtype=np.int8)
    stack = [int(v) for v in np.flatnonzero(deg <= 1)]
    while stack:
        v = stack.pop()
        if decision[v] != 0 or deg[v] > 1:
            continue
        decision[v] = 1
        nbrs = _neighbours(indptr, indices, v)
        for u in nbrs[decision[nbrs] == 0]:
            decision[u] = -1
            for w in _neighbours(indptr, indices, int(u)):
                deg[w] -= 1
                if decision[w] == 0 and deg[w] <= 1:
                    stack.append(int(w))
    return decision


def reduce_then_greedy(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator,
                       noise: float = 0.3) -> np.ndarray:
    """Degree-0/1 reductions first, then min-degree greedy on the kernel. Returns ``start_mask [n]``."""
    decision = low_degree_reductions(indptr, indices)
    return _min_degree_fill(indptr, indices, rng, noise, decision == 1, decision == 0)
