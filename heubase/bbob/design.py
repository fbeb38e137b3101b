"""Space-filling initial designs: each function returns ``design [count, dim]`` inside the box."""
from __future__ import annotations

import numpy as np


def uniform_design(count: int, dim: int, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Independent uniform points. Returns ``design [count, dim]``."""
    return rng.uniform(lower, upper, size=(count, dim))


def latin_hypercube(count: int, dim: int, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Latin hypercube: each coordinate's range cut into ``count`` strata, one point in each.

    Returns ``design [count, dim]``.
    """
    strata = np.argsort(rng.random((count, dim)), axis=0)
    unit = (strata + rng.random((count, dim))) / count
    return lower + (upper - lower) * unit


def opposition_design(count: int, dim: int, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Opposition-based design: half uniform points, half their mirror images through the box centre.

    Returns ``design [count, dim]``.
    """
    half = rng.uniform(lower, upper, size=((count + 1) // 2, dim))
    return np.concatenate([half, lower + upper - half])[:count]


def halton_design(count: int, dim: int, lower: float, upper: float, rng: np.random.Generator) -> np.ndarray:
    """Randomly shifted Halton sequence (low discrepancy; prime bases, Cranley-Patterson shift).

    Returns ``design [count, dim]``.
    """
    primes = _primes(dim)
    index = np.arange(1, count + 1)
    unit = np.empty((count, dim))
    for j, base in enumerate(primes):
        value, fraction, k = np.zeros(count), 1.0 / base, index.copy()
        while np.any(k > 0):
            value += fraction * (k % base)
            k //= base
            fraction /= base
        unit[:, j] = value
    unit = np.mod(unit + rng.random(dim), 1.0)
    return lower + (upper - lower) * unit


def _primes(count: int) -> list[int]:
    found: list[int] = []
    candidate = 2
    while len(found) < count:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return found
