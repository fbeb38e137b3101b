"""The EPLB evaluator end to end: real sandboxes, real CLI, small workloads."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from beam.evaluate.isolation import running_as_root
from beam.problem import load_problem

ROOT = Path(__file__).resolve().parents[2]
EPLB = ROOT / "problems" / "eplb"
REFERENCE = EPLB / "reference_solver.py"


@pytest.fixture(scope="module")
def small_problem(tmp_path_factory):
    """A copy of problems/eplb with fewer, smaller windows so each evaluation takes a few seconds."""
    root = tmp_path_factory.mktemp("problem") / "eplb"
    shutil.copytree(EPLB, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (root / "problem.toml").read_text()
    toml = toml.replace("windows = 9", "windows = 4").replace("layers = 58", "layers = 8")
    toml = toml.replace("extra_timing_calls = 8", "extra_timing_calls = 0")
    (root / "problem.toml").write_text(toml)
    return load_problem(root)


def solver(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "solver.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_reference_scores_like_itself(small_problem):
    result = small_problem.evaluate(REFERENCE)
    assert result["valid"], result["error"]
    assert set(result["shapes"]) == {s["name"] for s in small_problem.config["shapes"]}
    for shape in result["shapes"].values():
        assert shape["balancedness_gpu"] == pytest.approx(shape["reference"]["balancedness_gpu"])
        assert 0 < shape["balancedness_gpu"] <= shape["balancedness_gpu_same_window"] + 0.2
        assert 0.2 < shape["speedup_vs_reference"] < 5
    assert result["group_locality"] == 1.0
    assert result["balancedness_gpu"] == result["shapes"]["4-nodes-32-gpus"]["balancedness_gpu"]


def test_load_blind_packing_scores_worse(small_problem, tmp_path):
    path = solver(tmp_path, """
        import torch
        from heubase.eplb.hierarchical import finish_plan, is_hierarchical, place_hierarchical

        def in_order(item_load, num_packs):
            n = item_load.shape[1]
            return (torch.arange(n) // (n // num_packs)).expand_as(item_load).clone()

        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            if not is_hierarchical(num_groups, num_nodes):
                num_groups = num_nodes = 1
            phy2log = place_hierarchical(weight.float(), num_replicas, num_groups, num_nodes, num_gpus, pack=in_order)
            return finish_plan(phy2log, weight.shape[1])
    """)
    result = small_problem.evaluate(path)
    assert result["valid"], result["error"]
    for shape in result["shapes"].values():
        assert shape["balancedness_gpu_same_window"] < shape["reference"]["balancedness_gpu_same_window"] - 0.05
        assert shape["balancedness_gpu"] < shape["reference"]["balancedness_gpu"]


def test_invalid_plan_is_reported_not_raised(small_problem, tmp_path):
    path = solver(tmp_path, """
        from heubase.eplb.reference import rebalance_experts as ref
        def rebalance_experts(*args):
            phy2log, log2phy, logcnt = ref(*args)
            return phy2log, log2phy, logcnt + 1
    """)
    result = small_problem.evaluate(path)
    assert not result["valid"] and result["error_kind"] == "invalid"
    assert "logcnt[0, 0]" in result["error"] and "window 0" in result["error"]


def test_breaking_group_locality_is_invalid(small_problem, tmp_path):
    path = solver(tmp_path, """
        from heubase.eplb.hierarchical import finish_plan, place_hierarchical
        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            phy2log = place_hierarchical(weight.float(), num_replicas, 1, 1, num_gpus)
            return finish_plan(phy2log, weight.shape[1])
    """)
    result = small_problem.evaluate(path)
    assert not result["valid"] and "group locality" in result["error"]


def test_crash_becomes_an_error(small_problem, tmp_path):
    result = small_problem.evaluate(solver(tmp_path, "import os\ndef rebalance_experts(*a):\n    os._exit(3)\n"))
    assert not result["valid"] and result["error_kind"] == "crash" and result["fitness"] is None


@pytest.mark.skipif(not (sys.platform == "linux" and running_as_root()), reason="hidden paths need Linux as root")
def test_candidate_cannot_read_problem_files(small_problem, tmp_path):
    toml = small_problem.root / "problem.toml"
    path = solver(tmp_path, f"""
        from heubase.eplb.reference import rebalance_experts as ref
        def rebalance_experts(*args):
            try:
                leaked = open({str(toml)!r}).read()
            except OSError:
                leaked = ""
            if "seeds" in leaked:
                raise RuntimeError("the problem's seeds were readable")
            return ref(*args)
    """)
    result = small_problem.evaluate(path)
    assert result["valid"], result["error"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "beam.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def test_cli_json_on_a_workload_file(small_problem, tmp_path):
    rng = np.random.default_rng(0)
    load = rng.integers(0, 500, size=(3, 6, 256)).astype(np.int64)
    np.savez(tmp_path / "trace.npz", load=load)
    done = run_cli("eval", str(small_problem.root), str(REFERENCE), "--workloads", str(tmp_path / "trace.npz"),
                   "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("valid", "error", "fitness", "balancedness_gpu", "balancedness_expert", "ms_per_call",
                "speedup_vs_reference", "shapes"):
        assert key in result
    assert result["windows"] == [3, 6, 256]


def test_cli_bad_inputs_give_one_line_errors(small_problem, tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    done = run_cli("eval", str(small_problem.root), str(REFERENCE), "--workloads", str(tmp_path / "broken.npz"))
    assert done.returncode == 2 and "broken.npz" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = run_cli("eval", str(tmp_path / "nowhere"), str(REFERENCE))
    assert done.returncode == 2 and "not a problem folder" in done.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "problem.toml").write_text("[problem\nname=")
    done = run_cli("eval", str(tmp_path / "bad"), str(REFERENCE))
    assert done.returncode == 2 and "not valid TOML" in done.stderr


def test_cli_invalid_solver_exits_1(small_problem, tmp_path):
    done = run_cli("eval", str(small_problem.root), str(solver(tmp_path, "def rebalance_experts(*a):\n    return 1\n")),
                   "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["valid"] is False


@pytest.mark.slow
def test_default_problem_scores_reference():
    result = load_problem(EPLB).evaluate(REFERENCE, split="test")
    assert result["valid"] and result["windows"] == [9, 58, 256]
