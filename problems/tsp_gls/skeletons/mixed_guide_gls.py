"""GLS with a guide mixed from two evolved terms (like BEAM's published TSP-GLS heuristic).

func_1 and func_2 each return an edge guide; GLS uses MIX_A x (func_1 / its max)
+ MIX_B x (func_2 / its max), so that the two can be calibrated against each other.
The host is heubase.tsp_gls.gls.guided_local_search (see guide_gls.py), with the
benchmark's PERTURBATION_MOVES = 30 and ITER_LIMIT = 1200.
"""
import numpy as np

from heubase.tsp_gls.gls import guided_local_search

PERTURBATION_MOVES = 30
ITER_LIMIT = 1200

#Hyperparameter#
MAX_TIME = 1.0
MIX_A = 1.0
MIX_B = 0.5
LAMBDA_FACTOR = 0.1
#Hyperparameter#


def func_1(distance: np.ndarray) -> np.ndarray:
    # Purpose: return ``guide [n, n]``: first edge-badness term, finite, >= 0, symmetric, same shape as distance (float64 [n, n]),
    # e.g. the (normalised) distance itself; large where an edge is unlikely to belong to a short tour.
    pass


def func_2(distance: np.ndarray) -> np.ndarray:
    # Purpose: return ``guide [n, n]``: second edge-badness term of a different kind (finite, >= 0, symmetric, [n, n]),
    # e.g. how long an edge is compared with its endpoints' nearest neighbours.
    pass


def solve_tsp(distance: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    first = np.asarray(func_1(distance.copy()), dtype=np.float64)
    second = np.asarray(func_2(distance.copy()), dtype=np.float64)
    first = first / max(float(np.max(np.abs(first))), 1e-300)
    second = second / max(float(np.max(np.abs(second))), 1e-300)
    guide = MIX_A * first + MIX_B * second
    return guided_local_search(distance, np.maximum(guide, 0.0), time_limit_s, seed,
                               perturbation_moves=PERTURBATION_MOVES, iter_limit=ITER_LIMIT, lambda_factor=LAMBDA_FACTOR)
