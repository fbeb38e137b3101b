# Evolved mis solver (BEAM run mis-readme, program 4).
# Standalone: depends only on torch/numpy and the standard library.
# Validation fitness -0.4630; test fitness -0.3678.
# README.md beside this file says how it was produced and scored.
"""Several constructions, the best one improved by local search until the deadline.

func_1 builds a maximal independent set from scratch (STARTS times, each with
its own random stream); func_2 improves the largest until the deadline.
"""
import time

import numpy as np

#Hyperparameter#
MAX_TIME = 0.5
STARTS = 4  # int
SAFETY = 0.85
#Hyperparameter#


# inlined from heubase.mis.graph
def degrees(indptr: np.ndarray) -> np.ndarray:
    """Vertex degrees. Returns ``degree [n]`` (int64).

    >>> degrees(np.array([0, 1, 3, 4])).tolist()
    [1, 2, 1]
    """
    return np.diff(np.asarray(indptr)).astype(np.int64)


# inlined from heubase.mis.construct
def _neighbours(indptr: np.ndarray, indices: np.ndarray, v: int) -> np.ndarray:
    return indices[indptr[v]:indptr[v + 1]]


# inlined from heubase.mis.construct
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


# inlined from heubase.mis.construct
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


# inlined from heubase.mis.construct
def reduce_then_greedy(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator,
                       noise: float = 0.3) -> np.ndarray:
    """Degree-0/1 reductions first, then min-degree greedy on the kernel. Returns ``start_mask [n]``."""
    decision = low_degree_reductions(indptr, indices)
    return _min_degree_fill(indptr, indices, rng, noise, decision == 1, decision == 0)


# inlined from heubase.mis.repair
def _tie_break(n: int) -> np.ndarray:
    """Distinct tiny values in [0, 1e-6) that break ties without a random generator."""
    return (np.arange(n) * 0.6180339887 % 1.0) * 1e-6


# inlined from heubase.mis.graph
def tightness(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How many neighbours of each vertex are in the set ``mask``. Returns ``tightness [n]`` (int64).

    >>> tightness(np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]), np.array([True, False, True])).tolist()
    [0, 2, 0]
    """
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    return np.bincount(rows, weights=np.asarray(mask, dtype=np.float64)[indices], minlength=n).astype(np.int64)


# inlined from heubase.mis.graph
def neighbour_max(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, empty: float) -> np.ndarray:
    """Largest ``values`` over each vertex's neighbours. Returns ``neighbour_max [n]``.

    ``empty`` (given to isolated vertices) must not exceed any value: use ``-np.inf``.
    """
    vals = np.append(np.asarray(values, dtype=np.float64)[indices], empty)
    starts = np.asarray(indptr[:-1])
    out = np.maximum.reduceat(vals, np.minimum(starts, len(vals) - 1))
    return np.where(np.diff(indptr) > 0, out, empty)


# inlined from heubase.mis.repair
def fill_maximal(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Add free vertices (no neighbour in the set), those with fewest free neighbours first, until maximal.

    ``mask`` must already be independent (this is no repair). Returns ``filled_mask [n]``.
    """
    mask = np.asarray(mask, dtype=bool).copy()
    n = len(indptr) - 1
    tie = _tie_break(n)
    while True:
        free = ~mask & (tightness(indptr, indices, mask) == 0)
        if not free.any():
            return mask
        key = np.where(free, -(tightness(indptr, indices, free) + tie), -np.inf)
        mask |= free & (key > neighbour_max(indptr, indices, key, -np.inf))


# inlined from heubase.mis.local_search
class _Search:
    """Set, tightness (neighbours in the set) and size, updated move by move."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray):
        n = len(indptr) - 1
        self.nbrs = [indices[indptr[v]:indptr[v + 1]] for v in range(n)]
        self.mask = fill_maximal(indptr, indices, mask)
        self.tight = tightness(indptr, indices, self.mask)
        self.size = int(self.mask.sum())
        self.mark = np.zeros(n, dtype=bool)

    def add(self, v: int) -> None:
        self.mask[v] = True
        self.tight[self.nbrs[v]] += 1
        self.size += 1

    def drop(self, v: int) -> None:
        self.mask[v] = False
        self.tight[self.nbrs[v]] -= 1
        self.size -= 1

    def add_free(self, candidates: np.ndarray) -> list[int]:
        added = []
        for u in candidates:
            if not self.mask[u] and self.tight[u] == 0:
                self.add(int(u))
                added.append(int(u))
        return added

    def swap(self, x: int, rng: np.random.Generator | None) -> list[int]:
        """Apply a (1,2)-swap around ``x`` if one exists; returns the vertices inserted ([] if none)."""
        nb = self.nbrs[x]
        cand = nb[self.tight[nb] == 1]
        if len(cand) < 2:
            return []
        if rng is not None:
            cand = rng.permutation(cand)
        self.mark[cand] = True
        pair = None
        for u in cand:
            adjacent = self.nbrs[u][self.mark[self.nbrs[u]]]
            if len(adjacent) < len(cand) - 1:
                self.mark[adjacent] = False
                self.mark[u] = False
                w = cand[self.mark[cand]][0]
                self.mark[adjacent] = True
                self.mark[u] = True
                pair = (int(u), int(w))
                break
        self.mark[cand] = False
        if pair is None:
            return []
        self.drop(x)
        self.add(pair[0])
        self.add(pair[1])
        return [pair[0], pair[1], *self.add_free(cand)]

    def descend(self, queue: list[int], deadline: float, rng: np.random.Generator | None) -> None:
        """(1,2)-swaps until none is left among the queued set vertices (and those a swap affects)."""
        steps = 0
        while queue:
            steps += 1
            if steps % 64 == 0 and time.perf_counter() > deadline:
                return
            x = queue.pop()
            if not self.mask[x]:
                continue
            inserted = self.swap(x, rng)
            if not inserted:
                continue
            queue.extend(inserted)
            for y in self.nbrs[x]:
                if not self.mask[y] and self.tight[y] == 1:
                    owner = self.nbrs[y][self.mask[self.nbrs[y]]]
                    queue.extend(int(o) for o in owner)

    def force(self, v: int) -> list[int]:
        """Insert ``v``, dropping its neighbours in the set; fills freed vertices; returns the vertices inserted."""
        dropped = self.nbrs[v][self.mask[self.nbrs[v]]]
        for u in dropped:
            self.drop(int(u))
        self.add(v)
        inserted = [v]
        for u in dropped:
            inserted += self.add_free(self.nbrs[int(u)])
        return inserted

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, int]:
        return self.mask.copy(), self.tight.copy(), self.size

    def restore(self, state: tuple[np.ndarray, np.ndarray, int]) -> None:
        self.mask, self.tight, self.size = state[0].copy(), state[1].copy(), state[2]


# inlined from heubase.mis.local_search
def arw_ils(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
            deadline: float, pool: int = 4, max_iterations: int = 1000000) -> np.ndarray:
    """ARW iterated local search from ``mask`` until ``deadline`` (a ``time.perf_counter()`` value).

    Each iteration forces ``k`` outside vertices into the set (``k = 1`` mostly,
    ``k = i + 1`` with probability ``2^-i``), each the least-tight of ``pool``
    random outside vertices, then re-optimises with (1,2)-swaps. A worse result
    is kept with probability ``1 / (1 + loss x loss_to_best)``, else undone.
    Returns the best set seen, ``improved_mask [n]``.
    """
    search = _Search(indptr, indices, mask)
    search.descend([int(v) for v in np.flatnonzero(search.mask)], deadline, rng)
    best, best_size = search.mask.copy(), search.size
    for _ in range(int(max_iterations)):
        if time.perf_counter() > deadline:
            break
        outside = np.flatnonzero(~search.mask)
        if outside.size == 0:
            break
        before = search.snapshot()
        k = 1
        while rng.random() < 0.5 and k < max(1, search.size // 2):
            k += 1
        for _ in range(k):
            outside = np.flatnonzero(~search.mask)
            picks = rng.choice(outside, min(max(1, pool), outside.size), replace=False)
            search.force(int(picks[np.argmin(search.tight[picks])]))
        search.descend([int(v) for v in rng.permutation(np.flatnonzero(search.mask))], deadline, rng)
        if search.size > best_size:
            best, best_size = search.mask.copy(), search.size
        loss = before[2] - search.size
        if loss > 0 and rng.random() >= 1.0 / (1.0 + loss * (best_size - search.size)):
            search.restore(before)
    return best


def func_1(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return reduce_then_greedy(indptr, indices, rng, noise=0.4302)


def func_2(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
           deadline: float) -> np.ndarray:
    return arw_ils(indptr, indices, mask, rng, deadline, pool=6, max_iterations=893181)


def solve_mis(indptr: np.ndarray, indices: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    began = time.perf_counter()
    deadline = began + (time_limit_s if time_limit_s > 0 else MAX_TIME) * SAFETY
    rng = np.random.default_rng(seed)
    best = np.zeros(len(indptr) - 1, dtype=bool)
    for _ in range(max(1, STARTS)):
        start = np.asarray(func_1(indptr, indices, rng), dtype=bool)
        if start.sum() > best.sum():
            best = start
        if time.perf_counter() > began + 0.2 * (deadline - began):
            break
    best = np.asarray(func_2(indptr, indices, best, rng, deadline), dtype=bool)
    return np.flatnonzero(best)
