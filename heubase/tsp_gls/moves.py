"""Vectorised best-improvement moves on a tour (2-opt and or-opt).

A *move search* looks at a batch of candidate moves at once with numpy and
returns the best one as ``(delta, move)``, where ``delta`` is the change of
tour length under the given ``distance`` (negative: shorter) and ``move`` is a
tuple that :func:`apply_move` understands; ``(inf, None)`` when no candidate is
valid. ``cities`` says which cities the moves must start from and
``candidates [m, k]`` which partner cities each may be joined to: all cities
with their nearest-neighbour lists for a full descent, or one or two cities with
every other city for the focused moves of the GLS perturbation step.
The distance matrix must be symmetric.
"""
from __future__ import annotations

import numpy as np

INF = float("inf")


def _cost(flat: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``distance[a, b]`` through the flattened matrix (``np.take`` on 1-D is ~3x faster than 2-D fancy indexing)."""
    return np.take(flat, a * n + b)


def _wrap(index: np.ndarray, n: int) -> np.ndarray:
    """``index % n`` for indices in ``[-n, 2n)`` (numpy's integer modulo is ~10x slower than this)."""
    return np.where(index < 0, index + n, np.where(index >= n, index - n, index))


def best_two_opt(distance: np.ndarray, tour: np.ndarray, pos: np.ndarray, cities: np.ndarray,
                 candidates: np.ndarray) -> tuple[float, tuple | None]:
    """Best 2-opt move that adds an edge ``(c, x)`` for a city ``c`` of ``cities`` and ``x`` in its row of
    ``candidates``; both reconnections (through the successors, or through the predecessors) are tried.

    Returns ``(delta, ("2opt", p, q))``: remove edges at tour positions p and q (p < q), reverse ``tour[p+1:q+1]``.
    """
    n = len(tour)
    flat = np.ascontiguousarray(distance).ravel()
    c1 = np.asarray(cities)[:, None]
    c3 = np.asarray(candidates)
    i, j = pos[c1], np.take(pos, c3)
    new_edge = _cost(flat, n, c1, c3)
    best, move = INF, None
    for step in (1, -1):  # successor variant, predecessor variant
        c2, c4 = np.take(tour, i + step, mode="wrap"), np.take(tour, j + step, mode="wrap")
        delta = new_edge + _cost(flat, n, c2, c4) - _cost(flat, n, c1, c2) - _cost(flat, n, c3, c4)
        delta = np.where((c3 == c1) | (c3 == c2) | (c4 == c1), INF, delta)
        k = int(np.argmin(delta))
        if delta.flat[k] < best:
            a, b = np.unravel_index(k, delta.shape)
            ei, ej = int(i[a, 0]), int(j[a, b])
            if step == -1:
                ei, ej = (ei - 1) % n, (ej - 1) % n
            best, move = float(delta.flat[k]), ("2opt", min(ei, ej), max(ei, ej))
    return best, move


def best_or_opt(distance: np.ndarray, tour: np.ndarray, pos: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                slots: np.ndarray) -> tuple[float, tuple | None]:
    """Best or-opt move: take the segment of ``lengths[s]`` cities starting at tour position ``starts[s]`` out and
    put it, in either direction, into the tour edge starting at position ``slots[s, t]`` (a [segments, k] array).

    Returns ``(delta, ("or", start, length, slot, reversed))``.
    """
    n = len(tour)
    if n < 5:
        return INF, None
    flat = np.ascontiguousarray(distance).ravel()
    start = _wrap(np.asarray(starts)[:, None], n)
    length = np.asarray(lengths)[:, None]
    t = _wrap(np.asarray(slots), n)
    s1, sl = tour[start], np.take(tour, start + length - 1, mode="wrap")
    prev, nxt = np.take(tour, start - 1, mode="wrap"), np.take(tour, start + length, mode="wrap")
    edge = _cost(flat, n, tour, np.roll(tour, -1))  # length of the edge starting at each position
    u, v = np.take(tour, t), np.take(tour, t + 1, mode="wrap")
    removed = _cost(flat, n, prev, s1) + _cost(flat, n, sl, nxt) - _cost(flat, n, prev, nxt)
    old = np.take(edge, t)
    forward = _cost(flat, n, u, s1) + _cost(flat, n, sl, v) - old
    backward = _cost(flat, n, u, sl) + _cost(flat, n, s1, v) - old
    offset = _wrap(t - start, n)  # slot position relative to the segment's start
    inside = (offset < length) | (offset == n - 1)  # the slot's first or second city is in the segment
    delta = np.where(inside, INF, np.minimum(forward, backward) - removed)
    k = int(np.argmin(delta))
    if not delta.flat[k] < INF:
        return INF, None
    a, b = np.unravel_index(k, delta.shape)
    rev = bool(backward[a, b] < forward[a, b])
    return float(delta.flat[k]), ("or", int(start[a, 0]), int(length[a, 0]), int(t[a, b]), rev)


def apply_move(tour: np.ndarray, move: tuple) -> np.ndarray:
    """The tour after ``move`` (from :func:`best_two_opt` or :func:`best_or_opt`); returns a new ``tour [n]``."""
    n = len(tour)
    if move[0] == "2opt":
        _, p, q = move
        out = tour.copy()
        out[p + 1:q + 1] = tour[p + 1:q + 1][::-1]
        return out
    _, start, length, slot, rev = move
    rolled = np.roll(tour, -start)
    segment, rest = rolled[:length], rolled[length:]
    if rev:
        segment = segment[::-1]
    m = (slot - start - length) % n  # index of the slot's first city in ``rest``
    return np.concatenate([rest[:m + 1], segment, rest[m + 1:]])


def segments_around(pos: np.ndarray, cities: np.ndarray, max_length: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Every segment of 1..max_length consecutive tour positions that contains one of ``cities``:
    ``(starts, lengths)`` for :func:`best_or_opt`."""
    starts, lengths = [], []
    for c in np.asarray(cities).tolist():
        for length in range(1, max_length + 1):
            for first in range(pos[c] - length + 1, pos[c] + 1):
                starts.append(first)
                lengths.append(length)
    return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
