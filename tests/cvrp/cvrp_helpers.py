"""Helpers for CVRP tests: problem-folder modules are imported by path (they are not packages)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
CVRP = ROOT / "problems" / "cvrp"


def load_cvrp_module(name: str):
    return import_by_path(CVRP / f"{name}.py", f"beam_problem_cvrp_{name}")


def random_case(n: int, seed: int, capacity: float = 20.0):
    """coords [n+1, 2], demands [n+1] (1..9, depot 0), dist, for component tests."""
    rng = np.random.default_rng(seed)
    coords = rng.random((n + 1, 2))
    demands = np.concatenate(([0], rng.integers(1, 10, size=n))).astype(float)
    diff = coords[:, None] - coords[None]
    return coords, demands, np.sqrt((diff ** 2).sum(-1)), capacity


def cost_by_hand(routes, coords) -> float:
    """Route length computed with plain Python (independent of the code under test)."""
    total = 0.0
    for r in routes:
        path = [0, *r, 0]
        for a, b in zip(path, path[1:]):
            total += ((coords[a][0] - coords[b][0]) ** 2 + (coords[a][1] - coords[b][1]) ** 2) ** 0.5
    return total


def feasible(routes, demands, capacity) -> bool:
    n = len(demands) - 1
    flat = sorted(c for r in routes for c in r)
    return flat == list(range(1, n + 1)) and all(sum(demands[c] for c in r) <= capacity for r in routes)
