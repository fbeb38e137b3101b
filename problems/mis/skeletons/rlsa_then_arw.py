"""RLSA sampling, then ARW local search on the best set.

The RLSA host (heubase.mis.rlsa) runs CHAINS parallel chains on the energy
-|S| + PENALTY x (edges inside S) for SAMPLE_SHARE of the budget; func_1 gives
its flip logits, func_2 its temperature schedule and func_3 its repair (any
0/1 vector -> maximal independent set). func_4 then improves the best set
until the deadline.
"""
import time

import numpy as np

from heubase.mis.rlsa import rlsa

#Hyperparameter#
MAX_TIME = 0.5
CHAINS = 16  # int
PENALTY = 1.5
T_START = 1.0
T_END = 0.05
FLIPS = 2.0
SAMPLE_SHARE = 0.5
SAFETY = 0.85
#Hyperparameter#


def func_1(x: np.ndarray, neighbour_sum: np.ndarray, penalty: float) -> np.ndarray:
    # Purpose: RLSA flip proposal: return ``flip_logits [c, n]``, one logit per chain and vertex (higher = more likely to flip);
    # x [c, n] are 0/1 chain states (float), neighbour_sum [c, n] = chosen neighbours per vertex, penalty = weight of an edge
    # inside the set. Flipping i changes the energy by (1 - 2 x_i)(penalty * neighbour_sum_i - 1); logits of order one.
    pass


def func_2(progress: float, t_start: float, t_end: float) -> float:
    # Purpose: RLSA temperature schedule: return ``temperature`` (> 0) at progress in [0, 1] of the sampling time,
    # t_start at 0 and t_end at 1 (the logits are divided by it).
    pass


def func_3(indptr: np.ndarray, indices: np.ndarray, x: np.ndarray) -> np.ndarray:
    # Purpose: repair a chain state: return ``repaired_mask [n]`` (bool), an independent and maximal set built from x [n]
    # (entries > 0.5 chosen; x may have edges inside). Graph in CSR form: neighbours of v are indices[indptr[v]:indptr[v + 1]].
    pass


def func_4(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
           deadline: float) -> np.ndarray:
    # Purpose: local search: return ``improved_mask [n]`` (bool), an independent set at least as large as mask [n]
    # (independent), stopping by deadline (a time.perf_counter() value).
    pass


def solve_mis(indptr: np.ndarray, indices: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    began = time.perf_counter()
    budget = (time_limit_s if time_limit_s > 0 else MAX_TIME) * SAFETY
    rng = np.random.default_rng(seed)
    best = rlsa(indptr, indices, rng, began + budget * SAMPLE_SHARE, chains=CHAINS, penalty=PENALTY,
                t_start=T_START, t_end=T_END, flips=FLIPS, proposal=func_1, temperature=func_2, repair=func_3)
    best = np.asarray(func_4(indptr, indices, best, rng, began + budget), dtype=bool)
    return np.flatnonzero(best)
