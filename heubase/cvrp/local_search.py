"""Local search on routes with neighbour lists, each move type evaluated for all customers at once (numpy).

Every search has the signature ``f(routes, dist, demands, capacity, neighbours) -> improved_routes``
and stops at a local optimum of its moves (or after ``max_rounds`` rounds, or at
``deadline``, a ``time.perf_counter()`` value). One *round* evaluates a move
type for every customer ``u`` and each of its ``k`` neighbours ``v`` in one
vectorised pass, then applies the improving moves best first, at most one per
route (deltas are exact because a move only changes the routes it touches).

Moves, all creating the edge ``(u, v)`` or putting ``u`` next to ``v``:

* relocate: move ``u`` just after or just before ``v`` (same or another route);
* swap: exchange ``u`` and ``v`` (non-adjacent);
* or-opt: move the segment ``u, succ(u)`` (or three customers) next to ``v``, either orientation;
* 2-opt: within a route, reverse the path between ``u`` and ``v``;
* 2-opt*: between two routes, exchange tails so that ``u`` is followed by ``v``,
  or join ``u`` to ``v`` reversing one head and one tail.
"""
from __future__ import annotations

import time

import numpy as np

EPS = 1e-9


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


def _pairs(neighbours: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    u = np.repeat(np.arange(1, n + 1), neighbours.shape[1])
    v = neighbours[1:].reshape(-1)
    return u, v


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


_ROUNDS = {
    "relocate": _relocate_round,
    "swap": _swap_round,
    "or_opt2": lambda s, d, c, u, v: _or_opt_round(s, d, c, u, v, 2),
    "or_opt3": lambda s, d, c, u, v: _or_opt_round(s, d, c, u, v, 3),
    "two_opt": _two_opt_round,
    "two_opt_star": _two_opt_star_round,
}


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


def full_local_search(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                      neighbours: np.ndarray, max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """All moves (relocate, swap, 2-opt*, or-opt 2/3, 2-opt) to a common local optimum.

    Returns ``improved_routes`` (same customers, capacity kept, cost not higher).
    """
    return descend(routes, dist, demands, capacity, neighbours,
                   ("relocate", "two_opt_star", "swap", "or_opt2", "two_opt", "or_opt3"), max_rounds, deadline)


def relocate_swap_search(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                         neighbours: np.ndarray, max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """Node moves only: relocate and swap to a local optimum. Returns ``improved_routes``."""
    return descend(routes, dist, demands, capacity, neighbours, ("relocate", "swap"), max_rounds, deadline)


def route_structure_search(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                           neighbours: np.ndarray, max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """Edge moves only: 2-opt* between routes and 2-opt within routes. Returns ``improved_routes``."""
    return descend(routes, dist, demands, capacity, neighbours, ("two_opt_star", "two_opt"), max_rounds, deadline)


def relocate_chain_search(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                          neighbours: np.ndarray, max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """Relocate and or-opt (chains of 2 and 3) then 2-opt, to a local optimum. Returns ``improved_routes``."""
    return descend(routes, dist, demands, capacity, neighbours, ("relocate", "or_opt2", "or_opt3", "two_opt"),
                   max_rounds, deadline)


def two_opt_routes(routes: list, dist: np.ndarray, demands: np.ndarray, capacity: float,
                   neighbours: np.ndarray, max_rounds: int = 10000, deadline: float = float("inf")) -> list:
    """Intra-route 2-opt only (each route's own TSP improved). Returns ``improved_routes``."""
    return descend(routes, dist, demands, capacity, neighbours, ("two_opt",), max_rounds, deadline)
