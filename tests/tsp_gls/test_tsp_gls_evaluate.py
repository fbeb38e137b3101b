"""The TSP-GLS evaluator on a hand-checked instance: the unit square, whose best tour has length 4."""
from __future__ import annotations

import math

import numpy as np
import pytest

from beam.problem import load_problem
from tsp_gls_helpers import TSP_GLS, load_tsp_module

evaluate_module = load_tsp_module("evaluate")
instances = load_tsp_module("instances")

R2 = math.sqrt(2)
SQUARE = np.array([[0, 1, R2, 1], [1, 0, 1, R2], [R2, 1, 0, 1], [1, R2, 1, 0]], dtype=float)


@pytest.fixture(scope="module")
def problem():
    return load_problem(TSP_GLS)


def square_dataset(time_limit_s: float = 1.0):
    return instances.Dataset("square", (instances.Instance("square", SQUARE, 4.0),), time_limit_s)


def run(problem, tmp_path, body: str, time_limit_s: float = 1.0) -> dict:
    path = tmp_path / "candidate.py"
    path.write_text("import time\nimport numpy as np\n\n\ndef solve_tsp(distance, time_limit_s, seed):\n" + body)
    return evaluate_module.evaluate(problem, path, datasets=[square_dataset(time_limit_s)])


def test_the_optimal_tour_has_gap_zero(problem, tmp_path):
    result = run(problem, tmp_path, "    return np.arange(len(distance))\n")
    assert result["valid"], result["error"]
    assert result["datasets"]["square"]["length"] == pytest.approx(4.0)
    assert result["gap_percent"] == pytest.approx(0.0) and result["fitness"] == pytest.approx(0.0)


def test_a_crossing_tour_is_scored_by_its_recomputed_length(problem, tmp_path):
    result = run(problem, tmp_path, "    return np.array([0, 2, 1, 3])\n")
    assert result["valid"], result["error"]
    # length 2 + 2 sqrt(2) against 4: gap = 100 (sqrt(2) - 1) / 2 = 20.71 %
    assert result["gap_percent"] == pytest.approx(50 * (R2 - 1))


def test_a_float_tour_of_integer_values_is_accepted(problem, tmp_path):
    assert run(problem, tmp_path, "    return np.array([3.0, 2.0, 1.0, 0.0])\n")["valid"]


@pytest.mark.parametrize("body,message", [
    ("    return np.array([0, 1, 1, 3])\n", "not a permutation: city 2 is missing"),
    ("    return np.array([0, 1, 2])\n", "all 4 cities"),
    ("    return np.array([0, 1, 2, 4])\n", "0..3"),
    ("    return np.array([0, 1.5, 2, 3])\n", "integer"),
])
def test_invalid_tours_are_rejected_with_the_reason(problem, tmp_path, body, message):
    result = run(problem, tmp_path, body)
    assert not result["valid"] and result["error_kind"] == "invalid" and message in result["error"]


def test_a_solver_over_its_time_limit_is_too_slow(problem, tmp_path):
    result = run(problem, tmp_path, "    time.sleep(time_limit_s + 0.7)\n    return np.arange(4)\n", time_limit_s=0.2)
    assert not result["valid"] and result["error_kind"] == "too_slow"


def test_the_solver_gets_the_distances_the_time_limit_and_seed_zero_only(problem, tmp_path):
    body = ("    assert distance.shape == (4, 4) and abs(time_limit_s - 0.75) < 1e-12 and seed == 0\n"
            "    return np.arange(4)\n")
    assert run(problem, tmp_path, body, time_limit_s=0.75)["valid"]


def test_a_missing_reference_is_an_error_not_a_score(problem, tmp_path):
    path = tmp_path / "c.py"
    path.write_text("import numpy as np\ndef solve_tsp(distance, time_limit_s, seed):\n    return np.arange(4)\n")
    data = instances.Dataset("none", (instances.Instance("none", SQUARE, None),), 1.0)
    with pytest.raises(ValueError, match="no reference"):
        evaluate_module.evaluate(problem, path, datasets=[data])
