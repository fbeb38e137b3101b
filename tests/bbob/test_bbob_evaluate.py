"""The BBOB evaluator end to end: real sandboxes, host-side objectives, hand-checked gaps, cheating candidates."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from beam.evaluate import CallbackRefused
from beam.evaluate.isolation import running_as_root
from beam.problem import load_problem
from bbob_helpers import BBOB, ROOT, load_bbob_module, write_solver

inst = load_bbob_module("instances")


@pytest.fixture(scope="module")
def problem():
    return load_problem(BBOB)


@pytest.fixture(scope="module")
def evaluator(problem):
    return problem.evaluator()


def tiny(functions=("bbob:1", "griewank"), dim=3, budget_per_dim=20):
    return inst.datasets_from({"functions": list(functions), "dims": [dim], "instances": [1, 2], "seed": 7},
                              budget_per_dim)


CENTRE = """
    import numpy as np
    def optimise(objective, dim, lower, upper, budget, seed):
        return np.full(dim, 0.5 * (lower + upper))
"""

RANDOM = """
    import numpy as np
    def optimise(objective, dim, lower, upper, budget, seed):
        rng = np.random.default_rng(seed)
        points = rng.uniform(lower, upper, (budget, dim))
        values = objective(points)
        return points[int(np.argmin(values))]
"""


def test_gap_of_a_fixed_point_matches_the_host_function(problem, tmp_path):
    data = tiny()
    result = problem.evaluate(write_solver(tmp_path, CENTRE), datasets=data, reference=False)
    assert result["valid"], result["error"]
    for dataset in data:
        expected = [inst.objective(r).f(np.zeros((1, 3)))[0] - inst.objective(r).f_opt for r in dataset.runs]
        got = result["datasets"][dataset.name]
        assert got["gaps"] == pytest.approx(expected) and got["evaluations"] == 0
        assert got["gap"] == pytest.approx(np.mean(expected))
        assert got["log_gap"] == pytest.approx(np.mean(np.log10(np.array(expected) + 1e-8)))
    assert result["fitness"] == pytest.approx(-np.mean([d["log_gap"] for d in result["datasets"].values()]))


def test_the_whole_budget_in_one_batch_and_the_reference_beside(problem, tmp_path):
    data = tiny(functions=("bbob:1",))
    result = problem.evaluate(write_solver(tmp_path, RANDOM), datasets=data)
    assert result["valid"], result["error"]
    sphere = result["datasets"]["Sphere (f1)"]
    assert sphere["evaluations"] == 60 and sphere["requests"] == 1
    assert sphere["best_seen_gap"] == pytest.approx(sphere["gap"])
    assert 0 <= sphere["reference"]["gap"] < sphere["gap"]  # CMA-ES beats 60 random points on the sphere


@pytest.mark.parametrize("body, kind, words", [
    ("""
     import numpy as np
     def optimise(objective, dim, lower, upper, budget, seed):
         objective(np.zeros((budget, dim)))
         objective(np.zeros((1, dim)))
     """, "runtime", ["budget exhausted", "1 more points asked after 60 of 60"]),
    ("""
     import numpy as np
     def optimise(objective, dim, lower, upper, budget, seed):
         objective(np.full((2, dim), upper + 1.0))
     """, "runtime", ["outside the box"]),
    ("""
     import numpy as np
     def optimise(objective, dim, lower, upper, budget, seed):
         objective(np.zeros((2, dim + 1)))
     """, "runtime", ["shape [n, 3]"]),
    ("""
     import numpy as np
     def optimise(objective, dim, lower, upper, budget, seed):
         return np.full(dim, upper * 2)
     """, "invalid", ["outside the box", "bbob:1/i1/d3"]),
    ("""
     import numpy as np
     def optimise(objective, dim, lower, upper, budget, seed):
         return np.zeros(dim + 2)
     """, "invalid", ["shape [3]"]),
    ("""
     import numpy as np
     def optimise(objective, dim, lower, upper, budget, seed):
         return np.array([np.nan] * dim)
     """, "invalid", ["NaN"]),
])
def test_bad_candidates_get_a_clear_error(problem, tmp_path, body, kind, words):
    result = problem.evaluate(write_solver(tmp_path, body), datasets=tiny(functions=("bbob:1",)), reference=False)
    assert not result["valid"] and result["error_kind"] == kind, result["error"]
    assert all(w in result["error"] for w in words), result["error"]


def test_solver_time_over_max_time_is_too_slow(problem, tmp_path):
    slow = copy.deepcopy(problem)
    slow.config["problem"]["max_time_s"] = 0.2
    body = """
        import time, numpy as np
        def optimise(objective, dim, lower, upper, budget, seed):
            time.sleep(0.5)
            return np.zeros(dim)
    """
    result = slow.evaluate(write_solver(tmp_path, body), datasets=tiny(functions=("bbob:1",)), reference=False)
    assert result["error_kind"] == "too_slow" and "0.2 s per run" in result["error"]


def test_candidate_holds_no_function_object_or_optimum(problem, tmp_path):
    body = """
        import gc, sys, numpy as np
        def optimise(objective, dim, lower, upper, budget, seed):
            hits = sum(type(o).__module__.startswith("ioh") for o in gc.get_objects())
            hits += sum(name.startswith(("ioh", "beam_problem")) for name in sys.modules)
            hits += len([k for k in vars(objective) if "opt" in k or k == "objective"])
            return np.full(dim, float(hits) / 100.0)
    """
    result = problem.evaluate(write_solver(tmp_path, body), datasets=tiny(functions=("bbob:1",)), reference=False)
    assert result["valid"], result["error"]
    sphere = inst.objective(inst.Run("bbob:1", 1, 3, 60, 7))
    assert result["datasets"]["Sphere (f1)"]["gaps"][0] == pytest.approx(sphere.f(np.zeros((1, 3)))[0] - sphere.f_opt)


def test_budgeted_objective_checks_every_request(evaluator):
    served = evaluator.BudgetedObjective(inst.objective(inst.Run("bbob:1", 1, 2, 4, 0)), 2, -5.0, 5.0, 4)
    assert served(np.zeros(2)).shape == (1,) and served.used == 1
    assert served(np.zeros((2, 2), dtype=np.int32)).shape == (2,) and served.used == 3
    for arrays, message in [((np.zeros((1, 2)), np.zeros(1)), "one array"), ((np.zeros((1, 2), bool),), "floats"),
                            ((np.zeros((0, 2)),), "n >= 1"), ((np.array([[np.nan, 0.0]]),), "finite"),
                            ((np.array([[5.1, 0.0]]),), "outside"), ((np.zeros((2, 2)),), "budget exhausted")]:
        with pytest.raises(CallbackRefused, match=message):
            served(*arrays)
    assert served.used == 3


def test_cli_eval_prints_the_table_and_exits_2_on_a_bad_workload_file(tmp_path):
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([{"functions": ["bbob:1"], "dims": [2], "instances": [1], "budget_per_dim": 10}]))
    done = subprocess.run([sys.executable, "-m", "beam.cli", "eval", str(BBOB), str(write_solver(tmp_path, RANDOM)),
                           "--workloads", str(runs), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["datasets"]["Sphere (f1)"]["evaluations"] == 20
    runs.write_text("[{]")
    done = subprocess.run([sys.executable, "-m", "beam.cli", "eval", str(BBOB), str(write_solver(tmp_path, RANDOM)),
                           "--workloads", str(runs)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "runs.json" in done.stderr and "not valid JSON" in done.stderr


@pytest.mark.skipif(not (sys.platform == "linux" and running_as_root()), reason="hidden paths need Linux as root")
def test_the_function_package_is_hidden_from_the_candidate(problem, tmp_path):
    body = """
        import numpy as np
        def optimise(objective, dim, lower, upper, budget, seed):
            try:
                import ioh
                ioh.get_problem(1, 1, dim, ioh.ProblemClass.BBOB)
                return np.full(dim, 1.0)
            except Exception:
                return np.zeros(dim)
    """
    result = problem.evaluate(write_solver(tmp_path, body), datasets=tiny(functions=("bbob:1",)), reference=False)
    sphere = inst.objective(inst.Run("bbob:1", 1, 3, 60, 7))
    assert result["datasets"]["Sphere (f1)"]["gaps"][0] == pytest.approx(sphere.f(np.zeros((1, 3)))[0] - sphere.f_opt)
