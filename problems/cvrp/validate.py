"""Check a returned solution completely and compute its cost (trusted, host side).

A solution is a flat integer array with the depot 0 between routes
(``[0, 3, 1, 0, 2, 0]``, leading/trailing/repeated zeros allowed) or a list of
routes. It must visit every customer ``1..n`` exactly once, use no other id and
keep every route's demand within the capacity; its cost is the Euclidean
length of the routes, recomputed here from the instance.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


class InvalidSolution(ValueError):
    """The candidate's output is not a feasible solution of the instance."""


def routes_of(outputs: Sequence[np.ndarray]) -> list:
    """Routes from the candidate's outputs: one depot-delimited array, or one array per route."""
    routes: list[list[int]] = []
    for out in outputs:
        arr = np.asarray(out)
        if arr.ndim != 1:
            raise InvalidSolution(f"the solution must be a 1-D integer array, got shape {tuple(arr.shape)}")
        if arr.size and not (np.issubdtype(arr.dtype, np.integer) or
                             (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr))
                              and np.all(arr == np.round(arr)))):
            raise InvalidSolution(f"the solution must hold integer node ids, got dtype {arr.dtype}")
        current: list[int] = []
        for c in arr.astype(np.int64).tolist():
            if c == 0:
                if current:
                    routes.append(current)
                current = []
            else:
                current.append(c)
        if current:
            routes.append(current)
    return routes


def checked_cost(routes: list, instance) -> float:
    """Cost of ``routes`` on ``instance`` after checking ids, coverage and capacity (raises InvalidSolution)."""
    n = instance.customers
    flat = np.asarray([c for r in routes for c in r], dtype=np.int64)
    if flat.size and (flat.min() < 1 or flat.max() > n):
        bad = int(flat[(flat < 1) | (flat > n)][0])
        raise InvalidSolution(f"unknown customer id {bad} (customers are 1..{n})")
    counts = np.bincount(flat, minlength=n + 1)[1:] if flat.size else np.zeros(n, dtype=np.int64)
    if (counts > 1).any():
        raise InvalidSolution(f"customer {int(np.flatnonzero(counts > 1)[0]) + 1} is visited "
                              f"{int(counts.max())} times")
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0) + 1
        raise InvalidSolution(f"{missing.size} customer(s) never visited, e.g. {int(missing[0])}")
    cost = 0.0
    xy = instance.coords
    for k, r in enumerate(routes):
        load = float(instance.demands[r].sum())
        if load > instance.capacity + 1e-9:
            raise InvalidSolution(f"route {k} carries {load:g} > capacity {instance.capacity:g}")
        path = np.concatenate(([0], r, [0]))
        steps = xy[path[1:]] - xy[path[:-1]]
        cost += float(np.sqrt((steps * steps).sum(axis=1)).sum())
    return cost


def gap_percent(cost: float, reference: float) -> float:
    """Relative gap to the reference in percent: ``100 (cost - reference) / reference``.

    >>> gap_percent(101.0, 100.0)
    1.0
    """
    return 100.0 * (cost - reference) / reference
