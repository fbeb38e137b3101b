"""Different rules for large and small items.

Items above LARGE_ITEM x capacity (they can share a bin with few others) are
placed by func_1, the others by func_2; func_3 adds a shaping term for both,
with weight SHAPING_WEIGHT.
"""
import numpy as np

#Hyperparameter#
MAX_TIME = 0.002
LARGE_ITEM = 0.5
SHAPING_WEIGHT = 0.5
#Hyperparameter#


def func_1(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: placement rule for large items: return ``priority [n]``, one score per bin of bins_remain_cap (float64, every entry >= item;
    # the last entries are fresh bins at full capacity = bins_remain_cap.max()); higher is better; scores of order one.
    pass


def func_2(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: placement rule for small items: return ``priority [n]``, one score per bin of bins_remain_cap (same conventions as func_1).
    pass


def func_3(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    # Purpose: shaping term for every item, weight SHAPING_WEIGHT: return ``shaping [n]``, values of order one per bin.
    pass


def priority(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    capacity = float(bins_remain_cap.max())
    rule = func_1 if item > LARGE_ITEM * capacity else func_2
    scores = np.asarray(rule(item, bins_remain_cap.copy()), dtype=np.float64)
    return scores + SHAPING_WEIGHT * np.asarray(func_3(item, bins_remain_cap.copy()), dtype=np.float64)
