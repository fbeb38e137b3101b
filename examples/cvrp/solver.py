# Evolved cvrp solver (BEAM run cvrp-seed0, program 36).
# Standalone: depends only on torch/numpy and the standard library.
# Validation fitness -2.2709; test fitness -0.9366.
# README.md beside this file says how it was produced and scored.
"""Giant-tour evolution around split (the shape of the BEAM paper's CVRP solver).

A small pool of solutions is built from func_1's giant tours. Each iteration
takes a pool member's giant tour (its routes concatenated), mutates it with
func_2, re-splits it and improves the routes with func_3; the result replaces
the worst pool member when it is better. The best solution is returned.
"""
from __future__ import annotations
import time

import numpy as np

#Hyperparameter#
MAX_TIME = 300.0
POOL_SIZE = 4  # int
NEIGHBOURS = 20  # int
ELITE_BIAS = 0.7
#Hyperparameter#


# inlined from heubase.cvrp.routes
def distance_matrix(coords: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix ``dist [n+1, n+1]`` of the points ``coords [n+1, 2]`` (row 0 the depot).

    >>> float(distance_matrix(np.array([[0.0, 0.0], [3.0, 4.0]]))[0, 1])
    5.0
    """
    pts = np.asarray(coords, dtype=np.float64)
    diff = pts[:, None, :] - pts[None, :, :]
    return np.sqrt((diff * diff).sum(axis=2))


# inlined from heubase.cvrp.routes
def giant_tour_of(routes: list) -> np.ndarray:
    """Concatenate the routes into one giant tour ``[n]`` (int64), the input of :func:`split_routes`."""
    parts = [np.asarray(r, dtype=np.int64) for r in routes if len(r)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


# inlined from heubase.cvrp.routes
def nearest_neighbours(dist: np.ndarray, k: int = 20) -> np.ndarray:
    """``neighbours [n+1, k]``: for each customer its ``k`` nearest other customers, nearest first (row 0 unused)."""
    n = dist.shape[0] - 1
    k = max(1, min(int(k), n - 1)) if n > 1 else 1
    d = np.array(dist, dtype=np.float64, copy=True)
    d[:, 0] = np.inf
    np.fill_diagonal(d, np.inf)
    if n <= 1:
        return np.zeros((n + 1, 1), dtype=np.int64)
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
    out = np.take_along_axis(part, order, axis=1).astype(np.int64)
    out[0] = 0
    return out


# inlined from heubase.cvrp.routes
def routes_to_array(routes: list) -> np.ndarray:
    """Flat ``int64`` array of the routes with the depot 0 between them: ``[0, r1..., 0, r2..., 0]``."""
    out = [0]
    for r in routes:
        if len(r):
            out.extend(int(c) for c in r)
            out.append(0)
    return np.asarray(out, dtype=np.int64)


# inlined from heubase.cvrp.routes
def route_cost(route: list, dist: np.ndarray) -> float:
    """Length of one route closed at the depot: depot -> route[0] -> ... -> route[-1] -> depot.

    >>> route_cost([1], np.array([[0.0, 2.0], [2.0, 0.0]]))
    4.0
    """
    if len(route) == 0:
        return 0.0
    path = np.concatenate(([0], np.asarray(route, dtype=np.int64), [0]))
    return float(dist[path[:-1], path[1:]].sum())


# inlined from heubase.cvrp.routes
def solution_cost(routes: list, dist: np.ndarray) -> float:
    """Total length of all routes (each closed at the depot)."""
    return float(sum(route_cost(r, dist) for r in routes))


# inlined from heubase.cvrp.split
def split_routes(giant_tour: np.ndarray, dist: np.ndarray, demands: np.ndarray, capacity: float) -> list:
    """Optimal routes for the visiting order ``giant_tour`` (unlimited fleet): Prins' split.

    Returns ``routes``: a list of lists of customer ids, consecutive pieces of
    the giant tour, each of demand ``<= capacity``, of least total length among
    all such cuttings of this order.

    >>> d = np.array([[0, 1, 1, 2], [1, 0, 1, 2], [1, 1, 0, 1], [2, 2, 1, 0]], dtype=float)
    >>> split_routes(np.array([1, 2, 3]), d, np.array([0, 1, 1, 1]), 2)
    [[1], [2, 3]]
    """
    tour = np.asarray(giant_tour, dtype=np.int64)
    n = tour.size
    if n == 0:
        return []
    dem = np.asarray(demands, dtype=np.float64)[tour]
    if np.any(dem > capacity + 1e-9):
        raise ValueError("a customer's demand exceeds the vehicle capacity")
    depot = dist[0, tour]
    along = np.concatenate(([0.0], np.cumsum(dist[tour[:-1], tour[1:]])))  # along[i]: path length t0..ti
    load = np.concatenate(([0.0], np.cumsum(dem)))                          # load[j]: demand of t0..t(j-1)
    starts = np.searchsorted(load, load - capacity - 1e-9, side="left")     # first feasible start per end
    base = depot - along                                                   # start-dependent part of a route cost
    value = np.empty(n + 1)
    value[0] = 0.0
    pred = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        lo = int(starts[j])
        cand = value[lo:j] + base[lo:j]
        k = int(np.argmin(cand))
        value[j] = cand[k] + along[j - 1] + depot[j - 1]
        pred[j] = lo + k
    routes, j = [], n
    while j > 0:
        i = int(pred[j])
        routes.append(tour[i:j].tolist())
        j = i
    routes.reverse()
    return routes


# inlined from heubase.cvrp.construct
def sweep_tour(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sweep giant tour: customers by polar angle around the depot, from a random starting angle.

    Returns ``giant_tour [n]``; ties in angle go to the customer nearer the depot.
    Split then cuts the sweep into routes (Gillett-Miller style clusters).
    """
    pts = np.asarray(coords, dtype=np.float64)
    rel = pts[1:] - pts[0]
    angle = np.mod(np.arctan2(rel[:, 1], rel[:, 0]) - rng.uniform(0.0, 2.0 * np.pi), 2.0 * np.pi)
    order = np.lexsort((dist[0, 1:], angle))
    return (order + 1).astype(np.int64)


# inlined from heubase.cvrp.perturb
def double_bridge(giant_tour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Double bridge: cut the tour into four pieces A B C D and rejoin them as A C B D.

    Returns ``perturbed_tour [n]``.
    """
    tour = np.asarray(giant_tour, dtype=np.int64)
    n = tour.size
    if n < 8:
        return tour.copy()
    a, b, c = np.sort(rng.choice(np.arange(1, n), size=3, replace=False))
    return np.concatenate((tour[:a], tour[b:c], tour[a:b], tour[c:]))


# inlined from heubase.cvrp.local_search
class _State:
    """Arrays describing ``routes``: route id, position, predecessor, successor (0 = depot), prefix loads."""

    def __init__(self, routes: list, demands: np.ndarray, n: int):
        self.routes = [list(r) for r in routes if len(r)]
        lens = np.array([len(r) for r in self.routes], dtype=np.int64)
        flat = np.concatenate([np.asarray(r, dtype=np.int64) for r in self.routes])
        starts = np.cumsum(lens) - lens
        ends = starts + lens - 1
        rid = np.repeat(np.arange(len(self.routes)), lens)
        pos = np.arange(flat.size) - np.repeat(starts, lens)
        before = np.empty_like(flat)
        before[1:] = flat[:-1]
        before[starts] = 0
        after = np.empty_like(flat)
        after[:-1] = flat[1:]
        after[ends] = 0
        dem = np.asarray(demands, dtype=np.float64)
        cum = np.cumsum(dem[flat])
        prefix = cum - np.repeat(cum[starts] - dem[flat[starts]], lens)
        self.route = np.zeros(n + 1, dtype=np.int64)
        self.pos = np.zeros(n + 1, dtype=np.int64)
        self.pred = np.zeros(n + 1, dtype=np.int64)
        self.succ = np.zeros(n + 1, dtype=np.int64)
        self.prefix = np.zeros(n + 1)
        self.route[flat], self.pos[flat], self.pred[flat], self.succ[flat] = rid, pos, before, after
        self.prefix[flat] = prefix
        self.load = np.bincount(rid, weights=dem[flat], minlength=len(self.routes))
        self.dem = dem


# inlined from heubase.cvrp.local_search
EPS = 1e-9


# inlined from heubase.cvrp.local_search
def _apply_batch(state: _State, delta: np.ndarray, apply, touched_of) -> int:
    """Apply improving moves best first, each only if none of its routes was changed this round."""
    idx = np.flatnonzero(delta < -EPS)
    if idx.size == 0:
        return 0
    idx = idx[np.argsort(delta[idx], kind="stable")]
    used: set[int] = set()
    applied = 0
    for m in idx.tolist():
        routes = touched_of(m)
        if any(r in used for r in routes):
            continue
        used.update(routes)
        apply(m)
        applied += 1
    return applied


# inlined from heubase.cvrp.local_search
# ------------------------------------------------------------------ one round per move type
def _relocate_round(state: _State, dist: np.ndarray, cap: float, u: np.ndarray, v: np.ndarray) -> int:
    pu, su, pv, sv = state.pred[u], state.succ[u], state.pred[v], state.succ[v]
    gain = dist[pu, u] + dist[u, su] - dist[pu, su]
    after = dist[v, u] + dist[u, sv] - dist[v, sv] - gain          # u between v and succ(v)
    before = dist[pv, u] + dist[u, v] - dist[pv, v] - gain         # u between pred(v) and v
    same = state.route[u] == state.route[v]
    fits = same | (state.load[state.route[v]] + state.dem[u] <= cap + EPS)
    after = np.where(fits & (sv != u), after, np.inf)
    before = np.where(fits & (pv != u), before, np.inf)
    use_before = before < after
    delta = np.minimum(after, before)

    def apply(m: int) -> None:
        a, b = int(u[m]), int(v[m])
        ra, rb = int(state.route[a]), int(state.route[b])
        state.routes[ra].remove(a)
        target = state.routes[rb]
        k = target.index(b)
        target.insert(k if use_before[m] else k + 1, a)

    return _apply_batch(state, delta, apply, lambda m: (int(state.route[u[m]]), int(state.route[v[m]])))


# inlined from heubase.cvrp.local_search
def _swap_round(state: _State, dist: np.ndarray, cap: float, u: np.ndarray, v: np.ndarray) -> int:
    pu, su, pv, sv = state.pred[u], state.succ[u], state.pred[v], state.succ[v]
    delta = (dist[pu, v] + dist[v, su] - dist[pu, u] - dist[u, su]
             + dist[pv, u] + dist[u, sv] - dist[pv, v] - dist[v, sv])
    ru, rv = state.route[u], state.route[v]
    diff = state.dem[v] - state.dem[u]
    fits = (ru == rv) | ((state.load[ru] + diff <= cap + EPS) & (state.load[rv] - diff <= cap + EPS))
    ok = fits & (su != v) & (sv != u)
    delta = np.where(ok, delta, np.inf)

    def apply(m: int) -> None:
        a, b = int(u[m]), int(v[m])
        ra, rb = state.routes[int(state.route[a])], state.routes[int(state.route[b])]
        ia, ib = ra.index(a), rb.index(b)
        ra[ia], rb[ib] = b, a

    return _apply_batch(state, delta, apply, lambda m: (int(state.route[u[m]]), int(state.route[v[m]])))


# inlined from heubase.cvrp.local_search
def _or_opt_round(state: _State, dist: np.ndarray, cap: float, u: np.ndarray, v: np.ndarray, length: int) -> int:
    seg = [u]
    for _ in range(length - 1):
        seg.append(state.succ[seg[-1]])
    e = seg[-1]
    valid = np.ones(u.shape, dtype=bool)
    for s in seg[1:]:
        valid &= s != 0
    inside = np.zeros(u.shape, dtype=bool)
    for s in seg:
        inside |= v == s
    pu, se, sv = state.pred[u], state.succ[e], state.succ[v]
    seg_dem = sum(state.dem[s] for s in seg)
    gain = dist[pu, u] + dist[e, se] - dist[pu, se]
    forward = dist[v, u] + dist[e, sv] - dist[v, sv] - gain
    backward = dist[v, e] + dist[u, sv] - dist[v, sv] - gain
    same = state.route[u] == state.route[v]
    fits = same | (state.load[state.route[v]] + seg_dem <= cap + EPS)
    ok = valid & ~inside & fits & (v != pu)
    reverse = backward < forward
    delta = np.where(ok, np.minimum(forward, backward), np.inf)

    def apply(m: int) -> None:
        a, b = int(u[m]), int(v[m])
        src = state.routes[int(state.route[a])]
        i = src.index(a)
        piece = src[i:i + length]
        del src[i:i + length]
        if reverse[m]:
            piece.reverse()
        dst = state.routes[int(state.route[b])]
        k = dst.index(b)
        dst[k + 1:k + 1] = piece

    return _apply_batch(state, delta, apply, lambda m: (int(state.route[u[m]]), int(state.route[v[m]])))


# inlined from heubase.cvrp.local_search
def _two_opt_round(state: _State, dist: np.ndarray, cap: float, u: np.ndarray, v: np.ndarray) -> int:
    su, sv = state.succ[u], state.succ[v]
    same = state.route[u] == state.route[v]
    first = same & (state.pos[u] < state.pos[v]) & (su != v)
    delta = np.where(first, dist[u, v] + dist[su, sv] - dist[u, su] - dist[v, sv], np.inf)

    def apply(m: int) -> None:
        a, b = int(u[m]), int(v[m])
        r = state.routes[int(state.route[a])]
        i, j = r.index(a), r.index(b)
        r[i + 1:j + 1] = r[i + 1:j + 1][::-1]

    return _apply_batch(state, delta, apply, lambda m: (int(state.route[u[m]]),))


# inlined from heubase.cvrp.local_search
def _two_opt_star_round(state: _State, dist: np.ndarray, cap: float, u: np.ndarray, v: np.ndarray) -> int:
    pv, su, sv = state.pred[v], state.succ[u], state.succ[v]
    ru, rv = state.route[u], state.route[v]
    lu, lv = state.load[ru], state.load[rv]
    pre_u, pre_v = state.prefix[u], state.prefix[v]
    other = ru != rv
    # tails: ...u + v...  and  ...pred(v) + succ(u)...
    tail = dist[u, v] + dist[pv, su] - dist[u, su] - dist[pv, v]
    tail_ok = other & (pre_u + lv - pre_v + state.dem[v] <= cap + EPS) & (pre_v - state.dem[v] + lu - pre_u <= cap + EPS)
    # heads: ...u + v ... reversed head of v's route;  reversed tail of u's route + succ(v)...
    cross = dist[u, v] + dist[su, sv] - dist[u, su] - dist[v, sv]
    cross_ok = other & (pre_u + pre_v <= cap + EPS) & (lu - pre_u + lv - pre_v <= cap + EPS)
    tail = np.where(tail_ok, tail, np.inf)
    cross = np.where(cross_ok, cross, np.inf)
    use_cross = cross < tail
    delta = np.minimum(tail, cross)

    def apply(m: int) -> None:
        a, b = int(u[m]), int(v[m])
        ia, ib = int(state.route[a]), int(state.route[b])
        ra, rb = state.routes[ia], state.routes[ib]
        i, j = ra.index(a), rb.index(b)
        if use_cross[m]:
            state.routes[ia] = ra[:i + 1] + rb[:j + 1][::-1]
            state.routes[ib] = ra[i + 1:][::-1] + rb[j + 1:]
        else:
            state.routes[ia] = ra[:i + 1] + rb[j:]
            state.routes[ib] = rb[:j] + ra[i + 1:]

    return _apply_batch(state, delta, apply, lambda m: (int(state.route[u[m]]), int(state.route[v[m]])))


# inlined from heubase.cvrp.local_search
_ROUNDS = {
    "relocate": _relocate_round,
    "swap": _swap_round,
    "or_opt2": lambda s, d, c, u, v: _or_opt_round(s, d, c, u, v, 2),
    "or_opt3": lambda s, d, c, u, v: _or_opt_round(s, d, c, u, v, 3),
    "two_opt": _two_opt_round,
    "two_opt_star": _two_opt_star_round,
}


# inlined from heubase.cvrp.local_search
def _pairs(neighbours: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    u = np.repeat(np.arange(1, n + 1), neighbours.shape[1])
    v = neighbours[1:].reshape(-1)
    return u, v


# inlined from heubase.cvrp.local_search
def descend(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float, neighbours: np.ndarray,
            moves: tuple = tuple(_ROUNDS), max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """Variable-neighbourhood descent over the named ``moves`` until none improves.

    Returns ``improved_routes``: the routes after cycling through ``moves``
    (names from relocate, swap, or_opt2, or_opt3, two_opt, two_opt_star) until a
    full cycle applies no move, ``max_rounds`` rounds pass or ``deadline``
    (``time.perf_counter()``) is reached. Never increases the cost; keeps capacity.
    """
    n = dist.shape[0] - 1
    routes = [list(r) for r in routes if len(r)]
    if n < 2 or not routes:
        return routes
    u, v = _pairs(np.asarray(neighbours, dtype=np.int64), n)
    idle, rounds, k = 0, 0, 0
    while idle < len(moves) and rounds < max_rounds and time.perf_counter() < deadline:
        state = _State(routes, demands, n)
        applied = _ROUNDS[moves[k % len(moves)]](state, dist, float(capacity), u, v)
        routes = [r for r in state.routes if r]
        idle = 0 if applied else idle + 1
        rounds += 1
        k += 1
    return routes


# inlined from heubase.cvrp.local_search
def full_local_search(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                      neighbours: np.ndarray, max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """All moves (relocate, swap, 2-opt*, or-opt 2/3, 2-opt) to a common local optimum.

    Returns ``improved_routes`` (same customers, capacity kept, cost not higher).
    """
    return descend(routes, dist, demands, capacity, neighbours,
                   ("relocate", "two_opt_star", "swap", "or_opt2", "two_opt", "or_opt3"), max_rounds, deadline)


def func_1(coords: np.ndarray, dist: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return sweep_tour(coords, dist, rng)


def func_2(giant_tour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return double_bridge(giant_tour, rng)


def func_3(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float, neighbours: np.ndarray,
           deadline: float) -> list:
    return full_local_search(routes, dist, demands, capacity, neighbours, deadline=deadline, max_rounds=19793)


def solve_cvrp(coords: np.ndarray, demands: np.ndarray, capacity: float, time_limit_s: float,
               seed: int) -> np.ndarray:
    start = time.perf_counter()
    deadline = start + 0.9 * min(float(time_limit_s), MAX_TIME)
    rng = np.random.default_rng(seed)
    dist = distance_matrix(coords)
    near = nearest_neighbours(dist, NEIGHBOURS)
    pool = []
    for _ in range(max(1, POOL_SIZE)):
        if pool and time.perf_counter() >= deadline:
            break
        routes = split_routes(np.asarray(func_1(coords, dist, rng)), dist, demands, capacity)
        routes = func_3(routes, dist, demands, capacity, near, deadline)
        pool.append((solution_cost(routes, dist), routes))
    while time.perf_counter() < deadline:
        pool.sort(key=lambda item: item[0])
        pick = 0 if rng.random() < ELITE_BIAS else int(rng.integers(0, len(pool)))
        tour = np.asarray(func_2(giant_tour_of(pool[pick][1]), rng))
        routes = func_3(split_routes(tour, dist, demands, capacity), dist, demands, capacity, near, deadline)
        cost = solution_cost(routes, dist)
        if cost < pool[-1][0] - 1e-9 and all(abs(cost - c) > 1e-9 for c, _ in pool):
            pool[-1] = (cost, routes)
    return routes_to_array(min(pool, key=lambda item: item[0])[1])
