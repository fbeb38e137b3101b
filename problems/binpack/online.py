"""The trusted online packing loop: what a priority function sees, and where the item then goes.

Bins are numbered in the order of FunSearch's evaluator (``n`` bins of full
capacity, item placed in the feasible bin of highest priority, the first one
on ties). Only the front of that array matters, so for every item the
priority function is shown a *view*:

* every bin below ``used_upto`` (one past the highest bin ever used) that the
  item fits in, in bin order; then
* the next ``FRESH_BINS`` never-used bins, at full capacity.

Bins beyond those are identical fresh bins that can never be the first
maximum for any rule that scores a run of equal fresh bins alike after its
first two (elementwise rules, position ranks, neighbour differences such as
FunSearch's Weibull heuristic), so results equal FunSearch's evaluator while a
call costs O(open bins) instead of O(items). The view always ends with a fresh
bin, so ``bins.max()`` is the capacity.

The evaluator, not the priority function, applies each choice and counts
bins: a candidate only ever returns scores.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

FRESH_BINS = 2


class InvalidScores(ValueError):
    """A priority function returned something that is not one finite-or-infinite score per bin of the view."""


class OnlinePacking:
    """State of one online packing: remaining capacity of every bin used so far (holes included)."""

    def __init__(self, capacity: float, max_bins: int):
        self.capacity = float(capacity)
        self.max_bins = int(max_bins)
        self.remaining = np.full(max(1, self.max_bins), self.capacity)
        self.used_upto = 0
        self._tolerance = 1e-9 * self.capacity

    def view(self, item: float) -> tuple[np.ndarray, np.ndarray]:
        """``(bin_ids, remaining_capacity)`` of the bins shown for ``item`` (see the module docstring)."""
        fits = np.flatnonzero(self.remaining[:self.used_upto] - item >= -self._tolerance)
        fresh = np.arange(self.used_upto, min(self.used_upto + FRESH_BINS, self.max_bins))
        ids = np.concatenate([fits, fresh])
        return ids, self.remaining[ids].copy()

    def place(self, item: float, bin_id: int) -> None:
        """Put ``item`` into bin ``bin_id``; the bin must have room (the caller picked it from a view)."""
        if self.remaining[bin_id] - item < -self._tolerance:
            raise AssertionError(f"bin {bin_id} has {self.remaining[bin_id]:g} left, item {item:g} does not fit")
        self.remaining[bin_id] -= item
        self.used_upto = max(self.used_upto, bin_id + 1)

    def bins_used(self) -> int:
        """Number of bins holding at least one item (counted from the evaluator's own state)."""
        return int(np.count_nonzero(self.remaining[:self.used_upto] < self.capacity))


def choose(scores: object, size: int) -> int:
    """Index of the first highest score; rejects anything but ``size`` real numbers without NaN."""
    if not isinstance(scores, np.ndarray):
        raise InvalidScores(f"priorities must be an array, got {type(scores).__name__}")
    if scores.ndim == 0 and size == 1:
        scores = scores.reshape(1)
    if scores.shape != (size,):
        raise InvalidScores(f"priorities must have shape ({size},) (one per bin shown), got {tuple(scores.shape)}")
    if scores.dtype.kind not in "biuf":
        raise InvalidScores(f"priorities must be numbers, got dtype {scores.dtype}")
    if scores.dtype.kind == "f" and np.isnan(scores).any():
        raise InvalidScores("priorities contain NaN")
    return int(np.argmax(scores))


def pack(items: np.ndarray, capacity: float, priority: Callable[[float, np.ndarray], np.ndarray]) -> int:
    """Pack ``items`` online with a trusted, in-process ``priority``; returns the number of bins used.

    For HeuBase components and benchmarks; candidate code goes through the
    sandboxed evaluator, which runs the same loop with the same :func:`choose`.
    """
    state = OnlinePacking(capacity, len(items))
    for item in items:
        item = float(item)
        ids, view = state.view(item)
        state.place(item, int(ids[choose(np.asarray(priority(item, view)), len(ids))]))
    return state.bins_used()
