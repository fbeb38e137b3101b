"""HGS references: a tiny solve through PyVRP, and the consistency of the cached reference file."""
from __future__ import annotations

import numpy as np
import pytest

from beam.problem import load_problem
from cvrp_helpers import CVRP, load_cvrp_module

reference = load_cvrp_module("reference")
validate = load_cvrp_module("validate")
instances = load_cvrp_module("instances")


def test_hgs_solves_a_tiny_instance_optimally():
    # four customers at the corners of a square around the depot, capacity 2 (two routes of two needed):
    # the optimum pairs neighbouring corners: 2 x (sqrt(2)/2 + 1 + sqrt(2)/2) = 2 + 2 sqrt(2)
    inst = instances.Instance("corners", np.array([[0, 0], [-.5, -.5], [.5, -.5], [.5, .5], [-.5, .5]]),
                              np.array([0, 1, 1, 1, 1.0]), 2)
    routes = reference.hgs_solve(inst.coords, inst.demands, inst.capacity, 0.3)
    assert validate.checked_cost(routes, inst) == pytest.approx(2 + 2 * np.sqrt(2))


def test_cached_references_are_feasible_and_consistent():
    cache = reference.load_cache(CVRP / "data" / "references.json")["instances"]
    problem = load_problem(CVRP)
    for split in ("train", "validation", "test"):
        for data in instances.split_datasets(problem, split):
            for inst in data.instances:
                entry = cache.get(inst.fingerprint())
                assert entry is not None, f"no reference for {inst.name}: run python problems/cvrp/reference.py"
                assert validate.checked_cost(entry["routes"], inst) == pytest.approx(entry["cost"], rel=1e-9)
