"""The CVRP evaluator: solution checks by hand, and whole evaluations through the real sandbox."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from beam.problem import load_problem
from cvrp_helpers import CVRP, load_cvrp_module

validate = load_cvrp_module("validate")
instances = load_cvrp_module("instances")

# depot at the origin, customers on the axes at distance 1, 2 and 3: demands 1, 2, 3
SQUARE = instances.Instance("axes", np.array([[0, 0], [1, 0], [0, 2], [-3, 0]], dtype=float),
                            np.array([0, 1, 2, 3], dtype=float), 4)


def test_cost_of_a_hand_solution():
    # route 1-2: 1 + sqrt(1 + 4) + 2; route 3: 3 + 3
    routes = validate.routes_of([np.array([0, 1, 2, 0, 3, 0])])
    assert routes == [[1, 2], [3]]
    assert validate.checked_cost(routes, SQUARE) == pytest.approx(3 + math.sqrt(5) + 6)


def test_routes_as_separate_arrays_and_without_leading_depot():
    assert validate.routes_of([np.array([1, 2]), np.array([3])]) == [[1, 2], [3]]
    assert validate.routes_of([np.array([1, 2, 0, 0, 3])]) == [[1, 2], [3]]


@pytest.mark.parametrize("flat,message", [
    ([0, 1, 2, 3, 0], "carries 6 > capacity 4"),
    ([0, 1, 0, 2, 0], "never visited"),
    ([0, 1, 1, 0, 2, 0, 3, 0], "customer 1 is visited 2 times"),
    ([0, 1, 4, 0, 2, 0, 3, 0], "unknown customer id 4"),
    ([0, -1, 0, 2, 0, 3, 0], "unknown customer id -1"),
])
def test_invalid_solutions_are_rejected(flat, message):
    with pytest.raises(validate.InvalidSolution, match=message):
        validate.checked_cost(validate.routes_of([np.array(flat)]), SQUARE)


def test_non_integer_output_is_rejected():
    with pytest.raises(validate.InvalidSolution, match="integer"):
        validate.routes_of([np.array([0, 1.5, 0])])
    with pytest.raises(validate.InvalidSolution, match="1-D"):
        validate.routes_of([np.zeros((2, 2), dtype=int)])


ONE_ROUTE_EACH = """
import numpy as np
def solve_cvrp(coords, demands, capacity, time_limit_s, seed):
    n = len(demands) - 1
    out = [0]
    for c in range(1, n + 1):
        out += [c, 0]
    return np.array(out)
"""


def tiny_problem(tmp_path: Path) -> Path:
    """problems/cvrp with one 6-customer dataset and a hand-made reference: twice the one-route-each cost."""
    root = tmp_path / "cvrp"
    shutil.copytree(CVRP, root, ignore=shutil.ignore_patterns("__pycache__", "references.json"))
    toml = (root / "problem.toml").read_text()
    head, rest = toml.split("[[splits.train]]", 1)
    splits = ('[[splits.validation]]\nname = "tiny"\ncustomers = 6\ninstances = 1\nseed = 5\ncapacity = 20\n'
              'time_limit_s = 0.5\n\n')
    (root / "problem.toml").write_text(head + splits + rest[rest.index("[memory]"):])
    inst = instances.random_instance(6, 5, capacity=20, name="tiny/0")
    star = sum(2 * float(np.hypot(*(inst.coords[c] - inst.coords[0]))) for c in range(1, 7))
    cache = {"instances": {inst.fingerprint(): {"name": "tiny/0", "cost": star / 2, "routes": []}}}
    (root / "data" / "references.json").write_text(json.dumps(cache))
    return root


def run(tmp_path: Path, source: str, **options):
    problem = load_problem(tiny_problem(tmp_path))
    candidate = tmp_path / "candidate.py"
    candidate.write_text(source)
    return problem.evaluate(candidate, **options)


def test_gap_against_the_cached_reference(tmp_path):
    result = run(tmp_path, ONE_ROUTE_EACH)
    assert result["valid"], result["error"]
    assert result["gap_percent"] == pytest.approx(100.0)       # cost = 2 x reference
    assert result["fitness"] == pytest.approx(-100.0)


def test_a_solver_over_its_time_limit_is_too_slow(tmp_path):
    slow = "import time\n" + ONE_ROUTE_EACH.replace("n = len", "time.sleep(2.0)\n    n = len")
    result = run(tmp_path, slow)
    assert not result["valid"] and result["error_kind"] == "too_slow", result["error"]


def test_an_infeasible_solution_is_invalid(tmp_path):
    result = run(tmp_path, ONE_ROUTE_EACH.replace("range(1, n + 1)", "range(1, n)"))
    assert not result["valid"] and result["error_kind"] == "invalid"
    assert "never visited" in result["error"] and "tiny/0" in result["error"]


def test_the_candidate_cannot_read_the_references(tmp_path):
    peek = ONE_ROUTE_EACH.replace("n = len", f"open({str(tmp_path / 'cvrp' / 'data' / 'references.json')!r}).read()"
                                             "\n    n = len")
    result = run(tmp_path, peek)
    assert not result["valid"] and result["error_kind"] == "runtime"


def test_a_vrplib_file_without_reference_is_scored_by_cost(tmp_path):
    path = tmp_path / "axes.vrp"
    path.write_text("NAME : axes\nTYPE : CVRP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 4\n"
                    "NODE_COORD_SECTION\n1 0 0\n2 1 0\n3 0 2\n4 -3 0\nDEMAND_SECTION\n1 0\n2 1\n3 2\n4 3\n"
                    "DEPOT_SECTION\n1\n-1\nEOF\n")
    result = run(tmp_path, ONE_ROUTE_EACH, workload_file=path, time_limit_s=0.5)
    assert result["valid"], result["error"]
    assert result["gap_percent"] is None
    assert result["cost"] == pytest.approx(2 * (1 + 2 + 3))
