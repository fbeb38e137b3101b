"""GLS with an evolved guide and an evolved penalty utility.

func_1 gives the edge guide (how bad each edge looks); func_2 turns the guide
and the current penalties of the tour's edges into the utility GLS maximises to
choose the edge to penalise next (Voudouris & Tsang: guide / (1 + penalty)).
The host is heubase.tsp_gls.gls.guided_local_search with the benchmark's
PERTURBATION_MOVES = 30 and ITER_LIMIT = 1200.
"""
import numpy as np

from heubase.tsp_gls.gls import guided_local_search

PERTURBATION_MOVES = 30
ITER_LIMIT = 1200

#Hyperparameter#
MAX_TIME = 1.0
LAMBDA_FACTOR = 0.1
#Hyperparameter#


def func_1(distance: np.ndarray) -> np.ndarray:
    # Purpose: return ``guide [n, n]``: for every edge a finite value >= 0 saying how bad it is in a tour (classic: the distance);
    # symmetric, same shape as distance (float64 [n, n]).
    pass


def func_2(edge_guide: np.ndarray, edge_penalty: np.ndarray) -> np.ndarray:
    # Purpose: return ``utility [m]``: one finite score per edge of the current tour from its guide value edge_guide [m] and the number of
    # times it was penalised edge_penalty [m] (float64, >= 0); the edge of highest utility is penalised next (classic: guide / (1 + penalty)).
    pass


def solve_tsp(distance: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    guide = np.asarray(func_1(distance.copy()), dtype=np.float64)
    return guided_local_search(distance, guide, time_limit_s, seed, utility=func_2,
                               perturbation_moves=PERTURBATION_MOVES, iter_limit=ITER_LIMIT, lambda_factor=LAMBDA_FACTOR)
