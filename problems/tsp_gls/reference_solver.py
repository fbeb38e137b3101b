"""Classic guided local search (Voudouris & Tsang): distance guide, utility distance / (1 + penalty)."""
import numpy as np

from heubase.tsp_gls.gls import guided_local_search


def solve_tsp(distance: np.ndarray, time_limit_s: float, seed: int) -> np.ndarray:
    return guided_local_search(distance, distance, time_limit_s, seed)
