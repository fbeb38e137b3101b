"""BBOB instances: our Ackley and Griewank by hand, ioh's functions at their optimum, dataset specs and files."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from beam.problem import load_problem
from bbob_helpers import BBOB, load_bbob_module

inst = load_bbob_module("instances")


def test_ackley_and_griewank_by_hand():
    # Ackley at z = (1, 1): -20 e^-0.2 - e^cos(2 pi) + 20 + e = 20 - 20 e^-0.2
    assert inst.ackley(np.ones((1, 2)))[0] == pytest.approx(20 - 20 * math.exp(-0.2))
    # Griewank at z = (pi, 0): 1 + pi^2 / 4000 - cos(pi) cos(0) = 2 + pi^2 / 4000
    assert inst.griewank(np.array([[math.pi, 0.0]]))[0] == pytest.approx(2 + math.pi ** 2 / 4000)


@pytest.mark.parametrize("function", ["ackley", "griewank"])
def test_own_functions_are_zero_at_their_hidden_optimum_and_positive_elsewhere(function):
    run = inst.Run(function, 3, 6, 100, 0)
    x_opt, rotation = inst._transform(function, 3, 6)
    assert np.allclose(rotation @ rotation.T, np.eye(6)) and (np.abs(x_opt) <= 4).all()
    objective = inst.objective(run)
    assert objective.f(x_opt[None])[0] == pytest.approx(0.0, abs=1e-12)
    assert (objective.f(np.random.default_rng(1).uniform(-5, 5, (20, 6))) > 1e-3).all()
    other = inst._transform(function, 4, 6)[0]
    assert not np.allclose(other, x_opt)  # instances differ


@pytest.mark.parametrize("fid", [1, 3, 8, 15])
def test_ioh_functions_reach_f_opt_at_their_optimum(fid):
    import ioh

    problem = ioh.get_problem(fid, 2, 5, ioh.ProblemClass.BBOB)
    objective = inst.objective(inst.Run(f"bbob:{fid}", 2, 5, 100, 0))
    x_opt = np.array(problem.optimum.x)
    assert objective.f(x_opt[None])[0] == pytest.approx(objective.f_opt, abs=1e-8)
    assert objective.f(np.zeros((1, 5)))[0] > objective.f_opt


def test_split_datasets_expand_functions_dims_and_instances():
    problem = load_problem(BBOB)
    test = inst.split_datasets(problem, "test")
    rastrigin = next(d for d in test if d.name == "Rastrigin (f3)")
    assert len(rastrigin.runs) == 5 and {r.dim for r in rastrigin.runs} == {10}
    assert [r.seed for r in rastrigin.runs] == [3000, 3001, 3002, 3003, 3004]
    assert all(r.budget == 20000 for r in rastrigin.runs)
    validation = inst.split_datasets(problem, "validation")
    assert len(validation) == 5 and all(len(d.runs) == 2 for d in validation)


def test_workload_file_and_its_errors(tmp_path):
    good = tmp_path / "runs.json"
    good.write_text(json.dumps([{"functions": ["bbob:1", "ackley"], "dims": [2, 3], "instances": [1], "seed": 5}]))
    data = inst.load_file(good, 10)
    assert [d.name for d in data] == ["Sphere (f1)", "Ackley"]
    assert [(r.dim, r.budget, r.seed) for r in data[0].runs] == [(2, 20, 5), (3, 30, 6)]
    bad = tmp_path / "bad.json"
    for text, message in [("{not json", "not valid JSON"), ("[]", "non-empty JSON list"),
                          (json.dumps([{"functions": ["bbob:99"], "dims": [2], "instances": [1]}]), "1..24"),
                          (json.dumps([{"functions": ["rosen"], "dims": [2], "instances": [1]}]), "unknown function"),
                          (json.dumps([{"functions": ["bbob:1"], "dims": [0], "instances": [1]}]), "dims")]:
        bad.write_text(text)
        with pytest.raises(inst.InstanceError) as err:
            inst.load_file(bad)
        assert str(bad) in str(err.value) and message in str(err.value)
