"""ARW local search (Andrade, Resende and Werneck, 2012) for maximum independent set.

A *(1,2)-swap* removes one vertex ``x`` of the set and inserts two
non-adjacent vertices whose only neighbour in the set was ``x`` (1-tight
neighbours of ``x``): the set grows by one. A set with no (1,2)-swap and no
free vertex is *2-maximal*. The iterated local search (ILS) perturbs a
2-maximal set by forcing a few outside vertices in (dropping their neighbours),
re-optimises with (1,2)-swaps and accepts the result when it is not worse (or,
with a probability that falls with the loss, when it is).

Every component takes ``mask [n]`` (bool, independent) and returns
``improved_mask [n]``: independent, maximal, never smaller than the input.
"""
import time

import numpy as np

from heubase.mis.graph import tightness
from heubase.mis.repair import fill_maximal


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


def one_two_swaps(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray,
                  deadline: float = float("inf")) -> np.ndarray:
    """ARW's local search: fill to maximal, then (1,2)-swaps until the set is 2-maximal (or the deadline passes).

    ``deadline`` is a ``time.perf_counter()`` value. Returns ``improved_mask [n]``.

    >>> star = (np.array([0, 3, 4, 5, 6]), np.array([1, 2, 3, 0, 0, 0]))   # centre 0, leaves 1..3
    >>> np.flatnonzero(one_two_swaps(*star, np.array([True, False, False, False]))).tolist()
    [1, 2, 3]
    """
    search = _Search(indptr, indices, mask)
    search.descend([int(v) for v in np.flatnonzero(search.mask)], deadline, None)
    return search.mask


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


def arw_restarts(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                 deadline: float, rounds: int = 4) -> np.ndarray:
    """ARW ILS split into ``rounds`` equal time slices, each restarted from the best set so far.

    Returns ``improved_mask [n]``.
    """
    best = np.asarray(mask, dtype=bool)
    for r in range(max(1, rounds)):
        now = time.perf_counter()
        slice_end = now + (deadline - now) / (max(1, rounds) - r)
        found = arw_ils(indptr, indices, best, rng, slice_end)
        if found.sum() >= best.sum():
            best = found
    return best
