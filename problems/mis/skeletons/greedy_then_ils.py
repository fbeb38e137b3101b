"""Several constructions, the best one improved by local search until the deadline.

func_1 builds a maximal independent set from scratch (STARTS times, each with
its own random stream); func_2 improves the largest until the deadline.
"""
import time

import numpy as np

#Hyperparameter#
MAX_TIME = 0.5
STARTS = 4  # int
SAFETY = 0.85
#Hyperparameter#


def func_1(indptr: np.ndarray, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Purpose: construction: return ``start_mask [n]`` (bool), a maximal independent set of the graph (CSR: neighbours of v are
    # indices[indptr[v]:indptr[v + 1]]); use rng for ties and noise so repeated calls differ.
    pass


def func_2(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
           deadline: float) -> np.ndarray:
    # Purpose: local search: return ``improved_mask [n]`` (bool), an independent set at least as large as mask [n]
    # (independent), stopping by deadline (a time.perf_counter() value).
    pass


def solve_mis(indptr: np.ndarray, indices: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    began = time.perf_counter()
    deadline = began + (time_limit_s if time_limit_s > 0 else MAX_TIME) * SAFETY
    rng = np.random.default_rng(seed)
    best = np.zeros(len(indptr) - 1, dtype=bool)
    for _ in range(max(1, STARTS)):
        start = np.asarray(func_1(indptr, indices, rng), dtype=bool)
        if start.sum() > best.sum():
            best = start
        if time.perf_counter() > began + 0.2 * (deadline - began):
            break
    best = np.asarray(func_2(indptr, indices, best, rng, deadline), dtype=bool)
    return np.flatnonzero(best)
