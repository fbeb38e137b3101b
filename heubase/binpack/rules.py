"""Classic online bin-packing rules as priority functions.

Each function returns ``priority [n]``: one score per bin shown (higher is
better; the caller takes the first maximum). Scores are in capacity units
(leftover / capacity), so rules can be mixed with the terms of ``shaping``.
Fresh bins (and never-used holes) are the entries equal to the capacity,
``bins_remain_cap.max()``; only ``first_fit`` relies on bin order.
"""
import numpy as np


def _capacity(bins_remain_cap: np.ndarray) -> float:
    return float(np.max(bins_remain_cap))


def first_fit(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """First fit: the earliest-opened bin the item fits in; a new bin only when none does.

    Returns ``priority [n]`` decreasing with the bin's position in the view.

    >>> int(np.argmax(first_fit(30.0, np.array([40.0, 90.0, 100.0, 100.0]))))
    0
    """
    n = len(bins_remain_cap)
    return -np.arange(n, dtype=np.float64) / max(n, 1)


def best_fit(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """Best fit: the bin left with the least room after the item (ties: the earliest).

    Returns ``priority [n]`` = ``-(remaining - item) / capacity``.

    >>> int(np.argmax(best_fit(30.0, np.array([90.0, 40.0, 100.0, 100.0]))))
    1
    """
    return -(bins_remain_cap - item) / _capacity(bins_remain_cap)


def worst_fit(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """Worst fit: the used bin left with the most room; a new bin only when no used bin fits.

    Returns ``priority [n]``: ``(remaining - item) / capacity`` on used bins, -1 on fresh ones.

    >>> int(np.argmax(worst_fit(30.0, np.array([90.0, 40.0, 100.0, 100.0]))))
    0
    """
    capacity = _capacity(bins_remain_cap)
    leftover = (bins_remain_cap - item) / capacity
    return np.where(bins_remain_cap < capacity, leftover, -1.0)


def almost_worst_fit(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """Almost worst fit: the used bin with the second most room (the emptiest if it is the only one).

    Returns ``priority [n]``: the second-emptiest used bin scores 1, the emptiest
    0.5, other used bins their leftover / capacity minus 1, fresh bins -2.

    >>> int(np.argmax(almost_worst_fit(30.0, np.array([90.0, 40.0, 60.0, 100.0, 100.0]))))
    2
    """
    capacity = _capacity(bins_remain_cap)
    used = bins_remain_cap < capacity
    scores = np.where(used, (bins_remain_cap - item) / capacity - 1.0, -2.0)
    order = np.flatnonzero(used)[np.argsort(-bins_remain_cap[used], kind="stable")]
    if len(order) >= 1:
        scores[order[0]] = 0.5
    if len(order) >= 2:
        scores[order[1]] = 1.0
    return scores


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
