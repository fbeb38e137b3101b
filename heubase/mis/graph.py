"""Shared graph helpers on CSR arrays (``indptr [n + 1]``, ``indices [2 m]``)."""
import numpy as np
import scipy.sparse as sp


def degrees(indptr: np.ndarray) -> np.ndarray:
    """Vertex degrees. Returns ``degree [n]`` (int64).

    >>> degrees(np.array([0, 1, 3, 4])).tolist()
    [1, 2, 1]
    """
    return np.diff(np.asarray(indptr)).astype(np.int64)


def tightness(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How many neighbours of each vertex are in the set ``mask``. Returns ``tightness [n]`` (int64).

    >>> tightness(np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]), np.array([True, False, True])).tolist()
    [0, 2, 0]
    """
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return np.bincount(rows, weights=np.asarray(mask, dtype=np.float64)[indices], minlength=n).astype(np.int64)


def adjacency(indptr: np.ndarray, indices: np.ndarray) -> sp.csr_matrix:
    """The 0/1 adjacency matrix as a float32 scipy CSR matrix. Returns ``adjacency [n, n]``."""
    n = len(indptr) - 1
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, np.asarray(indices), np.asarray(indptr)), shape=(n, n))


def is_independent(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> bool:
    """True when no edge has both ends in ``mask``.

    >>> is_independent(np.array([0, 1, 2]), np.array([1, 0]), np.array([True, True]))
    False
    """
    mask = np.asarray(mask, dtype=bool)
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return not bool(np.any(mask[rows] & mask[indices]))


def neighbour_max(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, empty: float) -> np.ndarray:
    """Largest ``values`` over each vertex's neighbours. Returns ``neighbour_max [n]``.

    ``empty`` (given to isolated vertices) must not exceed any value: use ``-np.inf``.
    """
    vals = np.append(np.asarray(values, dtype=np.float64)[indices], empty)
    starts = np.asarray(indptr[:-1])
    out = np.maximum.reduceat(vals, np.minimum(starts, len(vals) - 1))
    return np.where(np.diff(indptr) > 0, out, empty)
