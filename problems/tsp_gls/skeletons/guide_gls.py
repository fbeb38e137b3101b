"""GLS with an evolved edge guide (the paper's TSP-GLS task).

func_1 says, before the search, how bad each edge looks: GLS penalises the tour
edge with the highest guide / (1 + penalty) at every perturbation step, so a
good guide steers the search away from edges an optimal tour would not use.
The host (heubase.tsp_gls.gls.guided_local_search) starts from a nearest-neighbour
tour, descends with 2-opt and or-opt, then alternates PERTURBATION_MOVES
penalty-guided moves on the augmented costs distance + lam * penalty with a
descent on the true distances, up to ITER_LIMIT rounds or the time limit;
lam = LAMBDA_FACTOR x (first local optimum's length) / n.
"""
import numpy as np

from heubase.tsp_gls.gls import guided_local_search

PERTURBATION_MOVES = 30  # the benchmark's setting (ReEvo / EoH / BEAM)
ITER_LIMIT = 1200

#Hyperparameter#
MAX_TIME = 1.0
LAMBDA_FACTOR = 0.1
#Hyperparameter#


def func_1(distance: np.ndarray) -> np.ndarray:
    # Purpose: return ``guide [n, n]``: for every edge (i, j) a finite value >= 0 saying how bad it is to have that edge in a tour
    # (the classic guide is the distance itself); symmetric, same shape as distance (float64 [n, n], zero diagonal).
    pass


def solve_tsp(distance: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    guide = np.asarray(func_1(distance.copy()), dtype=np.float64)
    return guided_local_search(distance, guide, time_limit_s, seed, perturbation_moves=PERTURBATION_MOVES,
                               iter_limit=ITER_LIMIT, lambda_factor=LAMBDA_FACTOR)
