"""A placement rule plus two weighted shaping terms.

func_1 gives the base rule; func_2 and func_3 are two different corrections
(for example one rewarding near-exact fits, one pulling items towards bins
that keep useful room) added with weights WEIGHT_A and WEIGHT_B.
"""
import numpy as np

#Hyperparameter#
MAX_TIME = 0.002
WEIGHT_A = 1.0
WEIGHT_B = 0.3
#Hyperparameter#


def func_1(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: base placement rule: return ``priority [n]``, one score per bin of bins_remain_cap (float64, every entry >= item; the
    # last entries are fresh bins at full capacity = bins_remain_cap.max()); higher is better; scores of order one (capacity units).
    pass


def func_2(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: first shaping term, weight WEIGHT_A: return ``shaping [n]``, values of order one per bin (e.g. near-exact-fit bonus).
    pass


def func_3(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: second shaping term, weight WEIGHT_B: return ``shaping [n]``, values of order one per bin (e.g. room left for later items).
    pass


def priority(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    scores = np.asarray(func_1(item, bins_remain_cap.copy()), dtype=np.float64)
    scores = scores + WEIGHT_A * np.asarray(func_2(item, bins_remain_cap.copy()), dtype=np.float64)
    return scores + WEIGHT_B * np.asarray(func_3(item, bins_remain_cap.copy()), dtype=np.float64)
