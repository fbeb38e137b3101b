"""RLSA host: regularised Langevin simulated annealing for maximum independent set.

Parallel chains ``x [c, n]`` in {0, 1} sample the penalised energy
``E(x) = -sum(x) + penalty * (edges inside x)``. Each step the *proposal*
gives flip logits (gradient-informed: the exact energy change of each single
flip), the *temperature* schedule scales them, and a softmax per chain times
``flips`` gives each vertex's flip probability: about ``flips`` vertices move
per chain and step (the regularisation that keeps the Langevin step local).
Every ``repair_every`` steps, and at the end, each chain is turned into a
maximal independent set by the *repair*; the largest independent one seen
is returned (a repair output with an edge inside is ignored).
"""
import time
from typing import Callable

import numpy as np

from heubase.mis.graph import adjacency, is_independent
from heubase.mis.proposal import energy_gain_logits
from heubase.mis.repair import greedy_repair
from heubase.mis.schedule import geometric_temperature


def rlsa(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator, deadline: float,
         start: np.ndarray | None = None, chains: int = 16, penalty: float = 1.5, t_start: float = 1.0,
         t_end: float = 0.05, flips: float = 2.0, repair_every: int = 25,
         proposal: Callable = energy_gain_logits, temperature: Callable = geometric_temperature,
         repair: Callable = greedy_repair, max_steps: int = 10000000) -> np.ndarray:
    """Run RLSA until ``deadline`` (a ``time.perf_counter()`` value); return the best repaired set.

    ``start`` (bool ``[n]``), when given, seeds every chain (else chains start
    empty). ``proposal(x, neighbour_sum, penalty)``,
    ``temperature(progress, t_start, t_end)`` and ``repair(indptr, indices, x)``
    are the pluggable parts (see ``proposal``, ``schedule``, ``repair``).
    Returns ``best_mask [n]`` (bool, independent and maximal).
    """
    n = len(indptr) - 1
    adj = adjacency(indptr, indices)
    c = max(1, int(chains))
    max_steps = int(max_steps)
    start = np.zeros(n, dtype=bool) if start is None else np.asarray(start, dtype=bool)
    x = np.tile(start.astype(np.float32), (c, 1))
    began = time.perf_counter()
    best = _keep_best(indptr, indices, x[:1], repair, np.zeros(n, dtype=bool))
    reserve = c * (time.perf_counter() - began)  # a repair of every chain, kept free before the deadline
    span = max(deadline - reserve - began, 1e-9)
    step = 0
    while step < max_steps:
        now = time.perf_counter()
        if now > deadline - reserve:
            break
        heat = max(float(temperature((now - began) / span, t_start, t_end)), 1e-6)
        neighbour_sum = np.asarray((adj @ x.T).T)
        logits = np.asarray(proposal(x, neighbour_sum, penalty), dtype=np.float64) / heat
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        chance = np.minimum(1.0, flips * weights / weights.sum(axis=1, keepdims=True))
        flip = rng.random((c, n)) < chance
        x[flip] = 1.0 - x[flip]
        step += 1
        if step % max(1, int(repair_every)) == 0:
            tick = time.perf_counter()
            best = _keep_best(indptr, indices, x, repair, best)
            reserve = max(reserve, 1.5 * (time.perf_counter() - tick))
    return _keep_best(indptr, indices, x, repair, best)


def _keep_best(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray, repair: Callable, best: np.ndarray) -> np.ndarray:
    for row in x:
        found = np.asarray(repair(indptr, indices, row), dtype=bool)
        if found.sum() > best.sum() and is_independent(indptr, indices, found):
            best = found
    return best
