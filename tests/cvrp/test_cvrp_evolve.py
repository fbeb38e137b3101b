"""`beam evolve problems/cvrp` end to end with the offline composer, on tiny splits."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tiny_evolve import evolve_standalone

from beam.problem import load_problem
from cvrp_helpers import CVRP, load_cvrp_module

instances = load_cvrp_module("instances")
reference = load_cvrp_module("reference")

SMALL_SPLITS = """
[[splits.validation]]
name = "CVRP-20"
customers = 20
instances = 2
seed = 11
time_limit_s = 0.3

[[splits.test]]
name = "CVRP-30"
customers = 30
instances = 1
seed = 13
capacity = 40
time_limit_s = 0.5

"""


def small_problem(folder: Path) -> Path:
    """problems/cvrp with two tiny splits and their HGS references (a run takes a minute or two)."""
    root = folder / "cvrp"
    shutil.copytree(CVRP, root, ignore=shutil.ignore_patterns("__pycache__", "references.json"))
    toml = (root / "problem.toml").read_text()
    head, rest = toml.split("[[splits.train]]", 1)
    (root / "problem.toml").write_text(head + SMALL_SPLITS + rest[rest.index("[memory]"):])
    cache = {"instances": {}}
    for split in ("validation", "test"):
        for data in instances.split_datasets(load_problem(root), split):
            for inst in data.instances:
                routes = reference.hgs_solve(inst.coords, inst.demands, inst.capacity, 0.5)
                cost = load_cvrp_module("validate").checked_cost(routes, inst)
                cache["instances"][inst.fingerprint()] = {"name": inst.name, "cost": cost, "routes": routes}
    (root / "data" / "references.json").write_text(json.dumps(cache))
    return root


@pytest.mark.slow
def test_offline_evolve_writes_a_valid_standalone_solver(tmp_path):
    problem = small_problem(tmp_path)
    solver = evolve_standalone(problem, tmp_path, evaluations=8, metric="gap_percent")
    result = load_problem(problem).evaluate(solver, split="test")
    assert result["valid"], result["error"]
    assert result["gap_percent"] > -1.0          # HGS on 30 customers is (near) optimal
