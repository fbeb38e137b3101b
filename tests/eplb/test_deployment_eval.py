"""Opt-in deployment options of the EPLB evaluator: previous plan, migrations, step history, multi-step objective."""
from __future__ import annotations

import math
import shutil
import textwrap
from pathlib import Path

import pytest

from beam.problem import load_problem

ROOT = Path(__file__).resolve().parents[2]
EPLB = ROOT / "problems" / "eplb"
REFERENCE = EPLB / "reference_solver.py"

#: Returns its previous plan unchanged when it gets one (so nothing moves), else the reference plan.
STICKY = """
    import torch
    from heubase.eplb.plan import build_log2phy
    from heubase.eplb.reference import rebalance_experts as ref

    def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus, old_phy2log=None):
        if old_phy2log is None:
            return ref(weight, num_replicas, num_groups, num_nodes, num_gpus)
        log2phy, logcnt = build_log2phy(old_phy2log, weight.shape[1])
        return old_phy2log.long().clone(), log2phy, logcnt
"""

#: Fails unless it gets a history whose steps sum to the window it plans on.
NEEDS_HISTORY = """
    import torch
    from heubase.eplb.reference import rebalance_experts as ref

    def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus, history=None):
        if history is not None:
            assert history.shape[0] == 3 and torch.equal(history.sum(0), weight), "bad history"
        return ref(weight, num_replicas, num_groups, num_nodes, num_gpus)
"""


def make_problem(tmp_path: Path, deployment: str = "") -> object:
    root = tmp_path / "eplb"
    shutil.copytree(EPLB, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (root / "problem.toml").read_text()
    toml = toml.replace("windows = 9", "windows = 4").replace("layers = 58", "layers = 4")
    toml = toml.replace("extra_timing_calls = 4", "extra_timing_calls = 0")
    (root / "problem.toml").write_text(toml + ("\n[deployment]\n" + deployment if deployment else ""))
    return load_problem(root)


def expected_fitness(problem, shape: dict, balance: float, key: str = "balancedness_gpu") -> float:
    """Fitness by problem.toml's [fitness] written out: next-window (or steps) balance, same-window balance,
    speed, and the guards against falling below the reference's next-window (or steps) and same-window balance."""
    cfg = problem.section("fitness")
    clip = float(cfg["speed_log2_clip"])
    speed = float(cfg["speed_weight"]) * max(-clip, min(clip, math.log2(shape["speedup_vs_reference"])))
    shortfall = max(0.0, shape["reference"][key] - balance)
    same = "balancedness_gpu_same_window"
    same_shortfall = max(0.0, shape["reference"][same] - shape[same])
    return (float(cfg["balance_weight"]) * balance
            + float(cfg.get("same_window_weight", 0.0)) * shape[same] + speed
            - float(cfg.get("next_window_guard", 0.0)) * shortfall
            - float(cfg.get("same_window_guard", 0.0)) * same_shortfall)


def solver(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "solver.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_default_reports_migrations_and_keeps_fitness(tmp_path):
    problem = make_problem(tmp_path)
    result = problem.evaluate(solver(tmp_path, STICKY))      # previous_plan is off: it never gets one
    assert result["valid"], result["error"]
    shape = result["shapes"]["4-nodes-32-gpus"]
    assert shape["migrations_per_rebalance"] == pytest.approx(shape["reference"]["migrations_per_rebalance"])
    assert shape["migrations_per_rebalance"] > 0
    assert shape["migration_bytes_per_rebalance"] == pytest.approx(shape["migrations_per_rebalance"] * 44040192)
    assert "balancedness_gpu_steps" not in shape
    assert shape["fitness"] == pytest.approx(expected_fitness(problem, shape, shape["balancedness_gpu"]))


def test_previous_plan_reaches_solvers_that_accept_it_and_weighs_migrations(tmp_path):
    problem = make_problem(tmp_path, "previous_plan = true\nmigration_weight = 0.5\nexpert_bytes = 1000\n")
    sticky = problem.evaluate(solver(tmp_path, STICKY))
    assert sticky["valid"], sticky["error"]
    assert sticky["migrations_per_rebalance"] == 0.0 and sticky["migration_bytes_per_rebalance"] == 0.0
    plain = problem.evaluate(REFERENCE)                       # a plain DeepSeek-contract solver still works
    assert plain["valid"], plain["error"]
    shape = plain["shapes"]["4-nodes-32-gpus"]
    assert shape["migrated_fraction"] == pytest.approx(shape["migrations_per_rebalance"] / (4 * 288))
    assert shape["fitness"] == pytest.approx(expected_fitness(problem, shape, shape["balancedness_gpu"])
                                             - 0.5 * shape["migrated_fraction"])


def test_history_steps_and_multi_step_objective(tmp_path):
    problem = make_problem(tmp_path, "history_steps = 3\nmulti_step_objective = true\n")
    result = problem.evaluate(solver(tmp_path, NEEDS_HISTORY))
    assert result["valid"], result["error"]
    for shape in result["shapes"].values():
        steps = shape["balancedness_gpu_steps"]
        # a step has a third of the tokens, so its busiest GPU is relatively busier than the window's
        assert 0 < steps <= shape["balancedness_gpu"] + 1e-9
        assert shape["fitness"] == pytest.approx(expected_fitness(problem, shape, steps, "balancedness_gpu_steps"))
    assert result["windows"] == [4, 4, 256]


BLIND = """
import torch
from heubase.eplb.reference import rebalance_experts as policy

def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return policy(torch.ones_like(weight), num_replicas, num_groups, num_nodes, num_gpus)   # ignores the loads
"""


def test_a_plan_worse_than_the_reference_pays_the_guards(tmp_path):
    """A plan made without looking at the loads is worse than the reference's on both windows: each guard
    costs the shortfall on its own window, and the reference itself never pays."""
    results = {}
    for guards in ((1.0, 1.0), (1.0, 0.0), (0.0, 0.0)):
        problem = make_problem(tmp_path / f"{guards[0]}-{guards[1]}")
        toml = (problem.root / "problem.toml").read_text()
        for line in ("next_window_guard = 1.0", "same_window_guard = 1.0", "speed_weight = 0.005"):
            assert line in toml
        toml = (toml.replace("next_window_guard = 1.0", f"next_window_guard = {guards[0]}")
                .replace("same_window_guard = 1.0", f"same_window_guard = {guards[1]}")
                .replace("speed_weight = 0.005", "speed_weight = 0.0"))
        (problem.root / "problem.toml").write_text(toml)
        results[guards] = load_problem(problem.root).evaluate(solver(tmp_path, BLIND))
        assert results[guards]["valid"], results[guards]["error"]
    for name, shape in results[(1.0, 1.0)]["shapes"].items():
        reference = shape["reference"]
        shortfall = reference["balancedness_gpu"] - shape["balancedness_gpu"]
        same_shortfall = reference["balancedness_gpu_same_window"] - shape["balancedness_gpu_same_window"]
        assert shortfall > 0.01 and same_shortfall > 0.01   # planning on no information serves traffic worse
        unguarded = results[(0.0, 0.0)]["shapes"][name]["fitness"]
        assert unguarded - results[(1.0, 0.0)]["shapes"][name]["fitness"] == pytest.approx(shortfall)
        assert unguarded - shape["fitness"] == pytest.approx(shortfall + same_shortfall)
    guarded = load_problem(tmp_path / "1.0-1.0" / "eplb")
    for shape in guarded.evaluate(REFERENCE)["shapes"].values():   # never below itself: no guard
        assert shape["fitness"] == pytest.approx(expected_fitness(guarded, shape, shape["balancedness_gpu"]))
        assert shape["balancedness_gpu"] >= shape["reference"]["balancedness_gpu"] - 1e-12
        assert shape["balancedness_gpu_same_window"] >= shape["reference"]["balancedness_gpu_same_window"] - 1e-12


def test_unknown_deployment_key_is_an_error(tmp_path):
    problem = make_problem(tmp_path, "previous_plans = true\n")
    with pytest.raises(ValueError, match="unknown \\[deployment\\] key"):
        problem.evaluate(REFERENCE)
