"""Multi-start local search: a space-filling design, then local refinements from its best points.

func_1 lays out DESIGN_SHARE of the budget as an initial design; the STARTS best
design points are refined by func_2 in turn, each with an equal share of what
is left; the remaining budget goes to refining the overall best with a smaller
step, and then, while budget remains, new designs around random points.
"""
import time

import numpy as np

from heubase.bbob.budget import Tracker

#Hyperparameter#
MAX_TIME = 5.0
DESIGN_SHARE = 0.1
STARTS = 4  # int
LOCAL_SIGMA = 0.1
TIME_SHARE = 0.8
#Hyperparameter#


def func_1(count: int, dim: int, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    # Purpose: initial design: return ``design [count, dim]``, count points spread over the box [lower, upper]^dim.
    pass


def func_2(evaluate: Tracker, x0: np.ndarray, sigma0: float, budget: int, rng: np.random.Generator) -> np.ndarray:
    # Purpose: local refinement: return ``refined [d]``, the best point found starting at x0 with initial step sigma0,
    # spending at most ``budget`` evaluations of evaluate (a Tracker: evaluate(points [n, d]) -> values [n]).
    pass


def optimise(objective, dim: int, lower: float, upper: float, budget: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    evaluate = Tracker(objective, budget, lower, upper, deadline=time.perf_counter() + min(TIME_SHARE, 0.9) * MAX_TIME)
    design = np.clip(func_1(max(STARTS, int(DESIGN_SHARE * budget)), dim, lower, upper, rng), lower, upper)
    values = evaluate(design)
    starts = design[np.argsort(values, kind="stable")[:STARTS]]
    sigma = LOCAL_SIGMA * (upper - lower)
    share = max(1, evaluate.left // (STARTS + 1))
    for x0 in starts:
        if evaluate.exhausted:
            break
        func_2(evaluate, x0, sigma, share, rng)
    while not evaluate.exhausted:
        used = evaluate.used
        func_2(evaluate, evaluate.best(starts[0]), 0.1 * sigma, max(1, evaluate.left // 2), rng)
        if evaluate.exhausted or evaluate.used == used:
            break
        func_2(evaluate, rng.uniform(lower, upper, dim), sigma, max(1, evaluate.left // 2), rng)
    return evaluate.best(starts[0])
