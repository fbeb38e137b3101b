"""Helpers for TSP-GLS tests: problem folder modules are imported by path (they are not packages)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
TSP_GLS = ROOT / "problems" / "tsp_gls"


def load_tsp_module(name: str):
    return import_by_path(TSP_GLS / f"{name}.py", f"beam_problem_tsp_gls_{name}")


def random_distance(n: int, seed: int) -> np.ndarray:
    """Euclidean distances of ``n`` random points in the unit square."""
    xy = np.random.default_rng(seed).random((n, 2))
    return np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))


def is_permutation(tour, n: int) -> bool:
    return sorted(np.asarray(tour).tolist()) == list(range(n))
