"""Rounds of RLSA seeded with the best set so far, each followed by local search.

func_1 builds the first set; every round then runs the RLSA host from the
best set (flip logits func_2, temperature func_3, fixed greedy repair) for
ROUND_SHARE of the remaining time, and func_4 polishes the round's result.
"""
import time

import numpy as np

from heubase.mis.repair import greedy_repair
from heubase.mis.rlsa import rlsa

#Hyperparameter#
MAX_TIME = 0.5
ROUNDS = 3  # int
CHAINS = 8  # int
PENALTY = 1.5
T_START = 0.5
T_END = 0.05
FLIPS = 2.0
ROUND_SHARE = 0.4
SAFETY = 0.85
#Hyperparameter#


def func_1(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Purpose: construction: return ``start_mask [n]`` (bool), a maximal independent set of the graph (CSR: neighbours of v are
    # indices[indptr[v]:indptr[v + 1]]); use rng for ties and noise.
    pass


def func_2(x: np.ndarray, neighbour_sum: np.ndarray, penalty: float) -> np.ndarray:
    # Purpose: RLSA flip proposal: return ``flip_logits [c, n]``, one logit per chain and vertex (higher = more likely to flip);
    # x [c, n] 0/1 chain states (float), neighbour_sum [c, n] chosen neighbours per vertex, penalty = weight of an edge inside
    # the set. Flipping i changes the energy by (1 - 2 x_i)(penalty * neighbour_sum_i - 1); logits of order one.
    pass


def func_3(progress: float, t_start: float, t_end: float) -> float:
    # Purpose: RLSA temperature schedule: return ``temperature`` (> 0) at progress in [0, 1] of a round, t_start at 0, t_end at 1.
    pass


def func_4(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
           deadline: float) -> np.ndarray:
    # Purpose: local search: return ``improved_mask [n]`` (bool), an independent set at least as large as mask [n]
    # (independent), stopping by deadline (a time.perf_counter() value).
    pass


def solve_mis(indptr: np.ndarray, indices: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    began = time.perf_counter()
    deadline = began + (time_limit_s if time_limit_s > 0 else MAX_TIME) * SAFETY
    rng = np.random.default_rng(seed)
    best = np.asarray(func_1(indptr, indices, rng), dtype=bool)
    rounds = max(1, ROUNDS)
    for r in range(rounds):
        now = time.perf_counter()
        if now >= deadline:
            break
        round_end = now + (deadline - now) / (rounds - r)
        sampled = rlsa(indptr, indices, rng, now + (round_end - now) * ROUND_SHARE, start=best, chains=CHAINS,
                       penalty=PENALTY, t_start=T_START, t_end=T_END, flips=FLIPS, proposal=func_2,
                       temperature=func_3, repair=greedy_repair)
        found = np.asarray(func_4(indptr, indices, sampled, rng, round_end), dtype=bool)
        if found.sum() >= best.sum():
            best = found
    return np.flatnonzero(best)
