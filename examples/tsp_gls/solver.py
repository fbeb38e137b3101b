# Evolved tsp_gls solver (BEAM run tsp-run, program 5).
# Standalone: depends only on torch/numpy and the standard library.
# Validation fitness -0.0079; test fitness -0.3341.
# README.md beside this file says how it was produced and scored.
"""GLS with an evolved edge guide (the paper's TSP-GLS task).

func_1 says, before the search, how bad each edge looks: GLS penalises the tour
edge with the highest guide / (1 + penalty) at every perturbation step, so a
good guide steers the search away from edges an optimal tour would not use.
The host (heubase.tsp_gls.gls.guided_local_search) starts from a nearest-neighbour
tour, descends with 2-opt and or-opt, then alternates PERTURBATION_MOVES
penalty-guided moves on the augmented costs distance + lam * penalty with a
descent on the true distances, up to ITER_LIMIT rounds or the time limit;
lam = LAMBDA_FACTOR x (first local optimum's length) / n.
"""
from __future__ import annotations
import numpy as np
from typing import Callable
import time

PERTURBATION_MOVES = 30  # the benchmark's setting (ReEvo / EoH / BEAM)
ITER_LIMIT = 1200

#Hyperparameter#
MAX_TIME = 1.0
LAMBDA_FACTOR = 0.260106
#Hyperparameter#


# inlined from heubase.tsp_gls.gls
SAFETY = 0.05  # share of the time limit kept back for returning the tour


# inlined from heubase.tsp_gls.gls
def checked_guide(values: object, n: int) -> np.ndarray:
    """``values`` as a finite, non-negative float64 ``guide [n, n]``; ValueError naming what is wrong otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n, n):
        raise ValueError(f"the guide must have shape ({n}, {n}) like the distance matrix, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the guide has NaN or infinite values")
    return arr


# inlined from heubase.tsp_gls.utilities
def classic_utility(edge_guide: np.ndarray, edge_penalty: np.ndarray) -> np.ndarray:
    """Voudouris-Tsang utility: returns ``utility [m]`` = ``edge_guide / (1 + edge_penalty)``.

    >>> classic_utility(np.array([2.0, 3.0]), np.array([0.0, 2.0])).tolist()
    [2.0, 1.0]
    """
    return edge_guide / (1.0 + edge_penalty)


# inlined from heubase.tsp_gls.tours
def neighbour_lists(distance: np.ndarray, k: int = 10) -> np.ndarray:
    """Returns ``neighbours [n, k]``: the ``k`` nearest other cities of every city, nearest first.

    ``k`` is cut to ``n - 1``; a city is never its own neighbour (even at distance 0).

    >>> d = np.array([[0., 1., 5.], [1., 0., 2.], [5., 2., 0.]])
    >>> neighbour_lists(d, 1).ravel().tolist()
    [1, 0, 1]
    """
    n = len(distance)
    k = max(1, min(k, n - 1))
    d = np.array(distance, dtype=np.float64, copy=True)
    np.fill_diagonal(d, np.inf)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# inlined from heubase.tsp_gls.tours
def tour_positions(tour: np.ndarray) -> np.ndarray:
    """``pos [n]`` with ``tour[pos[c]] == c`` for every city ``c``."""
    pos = np.empty(len(tour), dtype=np.int64)
    pos[tour] = np.arange(len(tour))
    return pos


# inlined from heubase.tsp_gls.moves
def _cost(flat: np.ndarray, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``distance[a, b]`` through the flattened matrix (``np.take`` on 1-D is ~3x faster than 2-D fancy indexing)."""
    return np.take(flat, a * n + b)


# inlined from heubase.tsp_gls.moves
INF = float("inf")


# inlined from heubase.tsp_gls.moves
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


# inlined from heubase.tsp_gls.moves
def _wrap(index: np.ndarray, n: int) -> np.ndarray:
    """``index % n`` for indices in ``[-n, 2n)`` (numpy's integer modulo is ~10x slower than this)."""
    return np.where(index < 0, index + n, np.where(index >= n, index - n, index))


# inlined from heubase.tsp_gls.moves
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


# inlined from heubase.tsp_gls.local_search
def _or_slots(pos: np.ndarray, tour: np.ndarray, neighbours: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Insertion edges near a segment's first city: the edges just before and just after each neighbour."""
    p = pos[neighbours[tour[first % len(tour)]]]
    return np.concatenate([p, p - 1], axis=1)


# inlined from heubase.tsp_gls.local_search
EPS = 1e-9


# inlined from heubase.tsp_gls.moves
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


# inlined from heubase.tsp_gls.local_search
def local_search(distance: np.ndarray, tour: np.ndarray, neighbours: np.ndarray | None = None,
                 deadline: float | None = None, max_moves: int = 100000, or_opt_length: int = 3) -> np.ndarray:
    """Best-improvement descent with 2-opt and or-opt (segments of up to ``or_opt_length`` cities, either
    direction) over the ``neighbours [n, k]`` lists (10 nearest when None).

    Returns the locally optimal ``tour [n]`` (a new array), or the best so far at ``deadline``.
    """
    tour = np.asarray(tour, dtype=np.int64).copy()
    n = len(tour)
    if n < 4:
        return tour
    if neighbours is None:
        neighbours = neighbour_lists(distance, 10)
    cities = np.arange(n)
    if or_opt_length > 0:
        lengths = np.repeat(np.arange(1, or_opt_length + 1), n)
        starts = np.tile(cities, or_opt_length)
    for _ in range(max_moves):
        if deadline is not None and time.perf_counter() > deadline:
            break
        pos = tour_positions(tour)
        delta, move = best_two_opt(distance, tour, pos, cities, neighbours)
        if or_opt_length > 0:
            d2, m2 = best_or_opt(distance, tour, pos, starts, lengths, _or_slots(pos, tour, neighbours, starts))
            if d2 < delta:
                delta, move = d2, m2
        if move is None or delta > -EPS:
            break
        tour = apply_move(tour, move)
    return tour


# inlined from heubase.tsp_gls.construct
def nearest_neighbour_tour(distance: np.ndarray, start: int = 0) -> np.ndarray:
    """Nearest-neighbour construction: from ``start``, always go to the closest unvisited city.

    Returns ``tour [n]`` (about 25 % above optimal on random uniform instances).

    >>> d = np.array([[0., 1., 3., 2.], [1., 0., 1., 3.], [3., 1., 0., 1.], [2., 3., 1., 0.]])
    >>> nearest_neighbour_tour(d, 0).tolist()
    [0, 1, 2, 3]
    """
    n = len(distance)
    tour = np.empty(n, dtype=np.int64)
    visited = np.zeros(n, dtype=bool)
    city = int(start) % n
    for k in range(n):
        tour[k] = city
        visited[city] = True
        if k + 1 < n:
            row = np.where(visited, np.inf, distance[city])
            city = int(np.argmin(row))
    return tour


# inlined from heubase.tsp_gls.tours
def tour_length(distance: np.ndarray, tour: np.ndarray) -> float:
    """Length of the closed tour ``tour`` (a permutation of the cities) under ``distance``.

    >>> d = np.array([[0., 1., 2.], [1., 0., 1.], [2., 1., 0.]])
    >>> tour_length(d, np.array([0, 1, 2]))
    4.0
    """
    tour = np.asarray(tour)
    return float(distance[tour, np.roll(tour, -1)].sum())


# inlined from heubase.tsp_gls.gls
def checked_utility(values: object, m: int) -> np.ndarray:
    """``values`` as a finite float64 ``utility [m]``; ValueError naming what is wrong otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (m,):
        raise ValueError(f"the utility must have shape ({m},), one value per tour edge, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the utility has NaN or infinite values")
    return arr


# inlined from heubase.tsp_gls.moves
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


# inlined from heubase.tsp_gls.local_search
def focused_move(distance: np.ndarray, tour: np.ndarray, cities: np.ndarray, or_opt_length: int = 3) -> np.ndarray | None:
    """One best improving 2-opt or or-opt move that involves one of ``cities`` (partners: every city).

    Used by GLS after penalising an edge, on the augmented costs. Returns the new ``tour [n]``, or None
    when no move touching those cities improves.
    """
    n = len(tour)
    if n < 4:
        return None
    cities = np.asarray(cities, dtype=np.int64)
    pos = tour_positions(tour)
    partners = np.broadcast_to(np.arange(n), (len(cities), n))
    delta, move = best_two_opt(distance, tour, pos, cities, partners)
    if or_opt_length > 0 and n >= 5:
        starts, lengths = segments_around(pos, cities, or_opt_length)
        slots = np.broadcast_to(np.arange(n), (len(starts), n))
        d2, m2 = best_or_opt(distance, tour, pos, starts, lengths, slots)
        if d2 < delta:
            delta, move = d2, m2
    if move is None or delta > -EPS:
        return None
    return apply_move(tour, move)


# inlined from heubase.tsp_gls.gls
def guided_local_search(distance: np.ndarray, guide: np.ndarray, time_limit_s: float, seed: int = 0, *,
                        utility: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                        perturbation_moves: int = 30, iter_limit: int = 1200, lambda_factor: float = 0.1,
                        neighbours: int = 10) -> np.ndarray:
    """GLS host: returns the best ``tour [n]`` found within ``time_limit_s`` seconds (or ``iter_limit`` rounds).

    ``guide [n, n]`` is the utility numerator (the distance for classic GLS); ``utility(edge_guide,
    edge_penalty) -> utility [m]`` scores the tour's edges for penalising (classic: ``guide / (1 + penalty)``);
    ``seed`` picks the start city. Raises ValueError for a guide or utility of the wrong shape or non-finite.
    """
    start = time.perf_counter()
    deadline = start + max(0.0, time_limit_s) * (1.0 - SAFETY)
    distance = np.asarray(distance, dtype=np.float64)
    n = len(distance)
    if n < 4:
        return np.arange(n, dtype=np.int64)
    guide = checked_guide(guide, n)
    score = utility or classic_utility
    near = neighbour_lists(distance, neighbours)
    tour = local_search(distance, nearest_neighbour_tour(distance, seed % n), near, deadline)
    best, best_len = tour.copy(), tour_length(distance, tour)
    lam = lambda_factor * best_len / n
    penalty = np.zeros((n, n), dtype=np.float64)
    augmented = distance.copy()
    for _ in range(int(iter_limit)):
        if time.perf_counter() > deadline:
            break
        moves = attempts = 0
        while moves < perturbation_moves and attempts < 10 * perturbation_moves:
            attempts += 1
            u, v = tour, np.roll(tour, -1)
            k = int(np.argmax(checked_utility(score(guide[u, v], penalty[u, v]), n)))
            a, b = int(u[k]), int(v[k])
            penalty[a, b] += 1.0
            penalty[b, a] = penalty[a, b]
            augmented[a, b] = augmented[b, a] = distance[a, b] + lam * penalty[a, b]
            moved = focused_move(augmented, tour, np.array([a, b]))
            if moved is not None:
                tour, moves = moved, moves + 1
            if attempts % 8 == 0 and time.perf_counter() > deadline:
                break
        tour = local_search(distance, tour, near, deadline)
        length = tour_length(distance, tour)
        if length < best_len - 1e-12:
            best, best_len = tour.copy(), length
    return best


# inlined from heubase.tsp_gls.guides
def _clean(guide: np.ndarray) -> np.ndarray:
    guide = np.nan_to_num(np.asarray(guide, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    guide = np.maximum(guide, 0.0)
    return 0.5 * (guide + guide.T)


# inlined from heubase.tsp_gls.guides
def nearest_excess_guide(distance: np.ndarray, k: int = 5, floor: float = 0.1) -> np.ndarray:
    """Excess over the endpoints' k-th nearest-neighbour distances: returns ``guide [n, n]`` =
    ``max(d_ij - (r_i + r_j) / 2, 0) + floor * d_ij``, ``r_i`` the distance from i to its k-th nearest city
    (edges longer than what is local for both ends look worst)."""
    n = len(distance)
    k = max(1, min(int(k), n - 1))
    d = np.array(distance, dtype=np.float64, copy=True)
    np.fill_diagonal(d, np.inf)
    radius = np.partition(d, k - 1, axis=1)[:, k - 1]
    np.fill_diagonal(d, 0.0)
    return _clean(np.maximum(d - 0.5 * (radius[:, None] + radius[None, :]), 0.0) + floor * d)


def func_1(distance: np.ndarray) -> np.ndarray:
    return nearest_excess_guide(distance, k=10, floor=0.1099)


def solve_tsp(distance: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    guide = np.asarray(func_1(distance.copy()), dtype=np.float64)
    return guided_local_search(distance, guide, time_limit_s, seed, perturbation_moves=PERTURBATION_MOVES,
                               iter_limit=ITER_LIMIT, lambda_factor=LAMBDA_FACTOR)
