"""Entry-function signature of online bin packing (shown to the code generator as the function-signature prompt)."""
import numpy as np


def priority(item: float, bins_remain_cap: np.ndarray) -> np.ndarray:
    """Score every bin the arriving item may go into; the item goes into the highest-scoring bin.

    Items arrive one at a time and must be placed at once, without knowing the
    items still to come. The caller shows only the bins the item fits in: every
    used bin with ``remaining capacity >= item``, in the order the bins were
    opened, followed by two fresh, empty bins (remaining capacity = the bin
    capacity, so ``bins_remain_cap.max()`` is always the capacity). Choosing a
    fresh bin opens a new bin. The caller places the item in the first bin of
    highest score and counts the bins itself; the goal is to use as few bins as
    possible over the whole sequence. Function state kept between calls is
    allowed (calls arrive in item order), but no future item is ever visible.

    Args:
        item: size of the arriving item, ``0 < item <= capacity``.
        bins_remain_cap: float64 ``[n]``, remaining capacity of each bin shown
            (every entry ``>= item``). Yours to modify.

    Returns:
        float ``[n]`` array of priorities, one per bin shown; ``+inf``/``-inf``
        are allowed, NaN is an error. Ties go to the earliest bin.
    """
    raise NotImplementedError
