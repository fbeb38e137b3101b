"""Temperature schedules of the RLSA sampler.

Every schedule has the signature ``f(progress, t_start, t_end) -> float``:
``progress`` in [0, 1] is the share of the sampling time used so far; each
returns ``temperature`` (> 0), ``t_start`` at progress 0 and ``t_end`` at 1.
"""
import math


def linear_temperature(progress: float, t_start: float, t_end: float) -> float:
    """Straight line from ``t_start`` to ``t_end``. Returns ``temperature``.

    >>> linear_temperature(0.5, 1.0, 0.0)
    0.5
    """
    p = min(max(progress, 0.0), 1.0)
    return max(t_start + (t_end - t_start) * p, 1e-6)


def geometric_temperature(progress: float, t_start: float, t_end: float) -> float:
    """Exponential decay from ``t_start`` to ``t_end`` (both > 0). Returns ``temperature``.

    >>> round(geometric_temperature(0.5, 1.0, 0.01), 6)
    0.1
    """
    p = min(max(progress, 0.0), 1.0)
    lo, hi = max(t_end, 1e-6), max(t_start, 1e-6)
    return hi * (lo / hi) ** p


def cosine_temperature(progress: float, t_start: float, t_end: float) -> float:
    """Half cosine from ``t_start`` to ``t_end``: slow at both ends. Returns ``temperature``."""
    p = min(max(progress, 0.0), 1.0)
    return max(t_end + 0.5 * (t_start - t_end) * (1.0 + math.cos(math.pi * p)), 1e-6)


def cyclic_temperature(progress: float, t_start: float, t_end: float, cycles: int = 3) -> float:
    """``cycles`` geometric cool-downs in a row (reheats), each from ``t_start`` to ``t_end``.

    Returns ``temperature``.
    """
    p = min(max(progress, 0.0), 1.0) * max(1, cycles)
    return geometric_temperature(p - math.floor(p) if p < max(1, cycles) else 1.0, t_start, t_end)
