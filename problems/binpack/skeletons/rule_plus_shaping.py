"""A placement rule plus one weighted shaping term.

func_1 is the base rule (best fit, worst fit, …) and func_2 a correction
added with weight SHAPING_WEIGHT (a bonus for near-exact fits, a penalty for
leaving slivers, …). Both see the item and the remaining capacities of the
bins it fits in (used bins in opening order, then two fresh bins); the bin
capacity is the largest entry.
"""
import numpy as np

#Hyperparameter#
MAX_TIME = 0.002
SHAPING_WEIGHT = 1.0
#Hyperparameter#


def func_1(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: base placement rule: return ``priority [n]``, one score per bin of bins_remain_cap (float64, every entry >= item; the
    # last entries are fresh bins at full capacity = bins_remain_cap.max()); higher is better; scores of order one (capacity units).
    pass


def func_2(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: shaping term added to the base rule with weight SHAPING_WEIGHT: return ``shaping [n]``, values of order one per bin,
    # e.g. a bonus where the item nearly fills the bin or a penalty where it would leave a gap too small for later items.
    pass


def priority(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    base = np.asarray(func_1(item, bins_remain_cap.copy()), dtype=np.float64)
    shaping = np.asarray(func_2(item, bins_remain_cap.copy()), dtype=np.float64)
    return base + SHAPING_WEIGHT * shaping
