"""Priority-shaping terms in the style of FunSearch's discovered heuristics.

Each function returns ``shaping [n]``, a term of order one per bin shown, meant
to be added with a weight to a rule's priority (see ``rules``): rewards for
exact fits, penalties for gaps too small to be used again, matching the item's
size class to the gap, and so on. Capacity = ``bins_remain_cap.max()``.
"""
import numpy as np


def _capacity(bins_remain_cap: np.ndarray) -> float:
    return float(np.max(bins_remain_cap))


def tight_fit_bonus(item: float, bins_remain_cap: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """1 where the item leaves at most ``tolerance`` x capacity of room (a near-exact fit), else 0.

    Returns ``shaping [n]``.

    >>> tight_fit_bonus(30.0, np.array([31.0, 50.0, 100.0])).tolist()
    [1.0, 0.0, 0.0]
    """
    leftover = bins_remain_cap - item
    return (leftover <= tolerance * _capacity(bins_remain_cap)).astype(np.float64)


def waste_penalty(item: float, bins_remain_cap: np.ndarray, dead_zone: float = 0.1) -> np.ndarray:
    """-1 where the item would leave a gap above 0 but below ``dead_zone`` x capacity (too small to reuse).

    The penalty fades linearly from -1 at a gap of 0+ to 0 at the edge of the
    dead zone, so the smallest leftovers are the worst. Returns ``shaping [n]``.

    >>> waste_penalty(30.0, np.array([30.0, 35.0, 80.0, 100.0]), dead_zone=0.1).tolist()
    [0.0, -0.5, 0.0, 0.0]
    """
    zone = max(dead_zone * _capacity(bins_remain_cap), 1e-12)
    leftover = bins_remain_cap - item
    inside = (leftover > 0) & (leftover < zone)
    return np.where(inside, -(1.0 - leftover / zone), 0.0)


def fill_ratio(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """How full the bin would be after the item, in [0, 1]. Returns ``shaping [n]``.

    >>> fill_ratio(30.0, np.array([40.0, 100.0])).tolist()
    [0.9, 0.3]
    """
    capacity = _capacity(bins_remain_cap)
    return (capacity - bins_remain_cap + item) / capacity


def fresh_bin_penalty(item: float, bins_remain_cap: np.ndarray, large_item: float = 0.5) -> np.ndarray:
    """-1 on fresh bins for items up to ``large_item`` x capacity (small items should share a bin), else 0.

    Returns ``shaping [n]``.

    >>> fresh_bin_penalty(30.0, np.array([40.0, 100.0])).tolist()
    [0.0, -1.0]
    """
    capacity = _capacity(bins_remain_cap)
    if item > large_item * capacity:
        return np.zeros(len(bins_remain_cap))
    return np.where(bins_remain_cap >= capacity, -1.0, 0.0)


def size_class_match(item: float, bins_remain_cap: np.ndarray, classes: int = 4) -> np.ndarray:
    """Harmonic-style matching: 1 where the bin's gap is of the item's size class, else 0.

    Size class of a size x: ``min(floor(capacity / x), classes)`` (class 1: over
    half a bin, class 2: a third to a half, …), as in the Harmonic algorithm, which
    packs every class apart. Filling a gap of one's own class wastes less than
    half of that class's width. Fresh bins never match. Returns ``shaping [n]``.

    >>> size_class_match(40.0, np.array([45.0, 80.0, 100.0])).tolist()   # 45 is a class-2 gap, like 40
    [1.0, 0.0, 0.0]
    """
    capacity = _capacity(bins_remain_cap)
    item_class = min(int(capacity // item), classes)
    gap_class = np.minimum(np.floor(capacity / np.maximum(bins_remain_cap, 1e-12)), classes)
    return ((gap_class == item_class) & (bins_remain_cap < capacity)).astype(np.float64)


def room_for_same(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """1 where the bin, after the item, still has room for another item of the same size, else 0.

    Returns ``shaping [n]``. Fresh bins are left at 0.

    >>> room_for_same(30.0, np.array([45.0, 70.0, 100.0])).tolist()
    [0.0, 1.0, 0.0]
    """
    capacity = _capacity(bins_remain_cap)
    return ((bins_remain_cap - item >= item) & (bins_remain_cap < capacity)).astype(np.float64)


def spare_room(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """Room a used bin keeps after the item, as a fraction of capacity (a worst-fit pull); 0 on fresh bins.

    Returns ``shaping [n]``.

    >>> spare_room(30.0, np.array([40.0, 90.0, 100.0])).tolist()
    [0.1, 0.6, 0.0]
    """
    capacity = _capacity(bins_remain_cap)
    return np.where(bins_remain_cap < capacity, (bins_remain_cap - item) / capacity, 0.0)
