"""An evolution strategy with restarts (the IPOP/BIPOP CMA-ES family).

Each run starts a CMA-ES state (heubase.bbob.cmaes.new_state) at a random point
of the box: func_1 samples the offspring, func_2 brings them into the box,
func_3 updates the state from their values; a run ends when it has converged
or stalled (heubase.bbob.restart.should_restart), and func_4 sets the next
run's population size. The Tracker counts the budget and keeps the best point.
"""
import time

import numpy as np

from heubase.bbob.budget import Tracker
from heubase.bbob.cmaes import new_state
from heubase.bbob.restart import should_restart

#Hyperparameter#
MAX_TIME = 5.0
SIGMA0 = 0.25
POP_SCALE = 1.0
TIME_SHARE = 0.8
#Hyperparameter#


def func_1(state: dict, rng: np.random.Generator) -> np.ndarray:
    # Purpose: return ``offspring [lam, d]``: state["lam"] new points around state["mean"] with step size state["sigma"]
    # and the shape of the learned covariance (eigenvectors state["B"], root eigenvalues state["D"]).
    pass


def func_2(points: np.ndarray, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    # Purpose: boundary handling: return ``in_box [n, d]``, the points brought into the box [lower, upper]^d
    # (rows in the same order; points already inside unchanged).
    pass


def func_3(state: dict, offspring: np.ndarray, fitness: np.ndarray) -> dict:
    # Purpose: return ``state`` updated from the evaluated offspring (fitness [lam], lower is better):
    # move state["mean"] towards the best, adapt state["sigma"] and the covariance; keep state["B"], state["D"]
    # consistent for sampling.
    pass


def func_4(restart: int, popsize0: int, budget_left: int, rng: np.random.Generator) -> int:
    # Purpose: restart policy: return ``popsize`` of the next run, after ``restart`` finished runs, from the default
    # population popsize0 and the evaluations left (e.g. grow it for more global search).
    pass


def optimise(objective, dim: int, lower: float, upper: float, budget: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    evaluate = Tracker(objective, budget, lower, upper, deadline=time.perf_counter() + min(TIME_SHARE, 0.9) * MAX_TIME)
    popsize0 = max(4, int(POP_SCALE * (4 + 3 * np.log(dim))))
    popsize, restart = popsize0, 0
    while not evaluate.exhausted:
        state = new_state(rng.uniform(lower, upper, dim), SIGMA0 * (upper - lower), popsize)
        history = []
        while not evaluate.exhausted:
            offspring = func_2(func_1(state, rng), lower, upper, rng)
            fitness = evaluate(offspring)
            state = func_3(state, offspring, fitness)
            history.append(float(np.min(fitness)))
            if should_restart(state, history):
                break
        restart += 1
        popsize = max(4, int(func_4(restart, popsize0, evaluate.left, rng)))
    return evaluate.best(np.full(dim, 0.5 * (lower + upper)))
