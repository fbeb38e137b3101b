# Evolved binpack solver (BEAM run binpack-seed0, program 31).
# Standalone: depends only on torch/numpy and the standard library.
# Validation fitness -3.8955; test fitness -4.3067.
# README.md beside this file says how it was produced and scored.
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


# inlined from heubase.binpack.rules
def first_fit(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """First fit: the earliest-opened bin the item fits in; a new bin only when none does.

    Returns ``priority [n]`` decreasing with the bin's position in the view.

    >>> int(np.argmax(first_fit(30.0, np.array([40.0, 90.0, 100.0, 100.0]))))
    0
    """
    n = len(bins_remain_cap)
    return -np.arange(n, dtype=np.float64) / max(n, 1)


# inlined from heubase.binpack.rules
def _capacity(bins_remain_cap: np.ndarray) -> float:
    return float(np.max(bins_remain_cap))


# inlined from heubase.binpack.rules
def tight_fit_else_worst(item: float, bins_remain_cap: np.ndarray, tolerance: float = 0.03) -> np.ndarray:
    """Near-exact fits first (best fit among those), otherwise worst fit; a new bin when no used bin fits.

    A bin the item fills to within ``tolerance`` x capacity is closed for good;
    otherwise the emptiest used bin takes the item, which keeps gaps large
    enough for later items instead of leaving slivers (the shape of FunSearch's
    OR heuristic: a high score for leftovers of a few units, then a slight
    preference for larger leftovers). Returns ``priority [n]``.

    >>> int(np.argmax(tight_fit_else_worst(30.0, np.array([32.0, 50.0, 90.0, 100.0]))))
    0
    >>> int(np.argmax(tight_fit_else_worst(30.0, np.array([40.0, 50.0, 90.0, 100.0]))))
    2
    """
    capacity = _capacity(bins_remain_cap)
    leftover = (bins_remain_cap - item) / capacity
    spread = np.where(bins_remain_cap < capacity, leftover, -1.0)
    return np.where(leftover <= tolerance, 2.0 - leftover, spread)


# inlined from heubase.binpack.shaping
def _capacity_shaping(bins_remain_cap: np.ndarray) -> float:
    return float(np.max(bins_remain_cap))


# inlined from heubase.binpack.shaping
def fill_ratio(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """How full the bin would be after the item, in [0, 1]. Returns ``shaping [n]``.

    >>> fill_ratio(30.0, np.array([40.0, 100.0])).tolist()
    [0.9, 0.3]
    """
    capacity = _capacity_shaping(bins_remain_cap)
    return (capacity - bins_remain_cap + item) / capacity


def func_1(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    return first_fit(item, bins_remain_cap)


def func_2(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    return tight_fit_else_worst(item, bins_remain_cap, tolerance=0.03625)


def func_3(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    return fill_ratio(item, bins_remain_cap)


def priority(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    capacity = float(bins_remain_cap.max())
    rule = func_1 if item > LARGE_ITEM * capacity else func_2
    scores = np.asarray(rule(item, bins_remain_cap.copy()), dtype=np.float64)
    return scores + SHAPING_WEIGHT * np.asarray(func_3(item, bins_remain_cap.copy()), dtype=np.float64)
