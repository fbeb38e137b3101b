"""`beam evolve problems/tsp_gls` end to end with the offline composer, on tiny splits."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tiny_evolve import evolve_standalone

from beam.problem import load_problem
from tsp_gls_helpers import ROOT, TSP_GLS

SMALL_SPLITS = """
[[splits.train]]
name = "TSP-20"
kind = "uniform"
cities = 20
instances = 2
seed = 11
time_limit_s = 0.3

[[splits.validation]]
name = "TSP-30"
kind = "uniform"
cities = 30
instances = 1
seed = 12
time_limit_s = 0.3

[[splits.test]]
name = "TSP-40"
kind = "uniform"
cities = 40
instances = 1
seed = 13
time_limit_s = 0.5

"""


def small_problem(folder: Path) -> Path:
    """problems/tsp_gls with a few tiny instances and freshly computed references."""
    root = folder / "tsp_gls"
    shutil.copytree(TSP_GLS, root, ignore=shutil.ignore_patterns("__pycache__", "references.json"))
    toml = (root / "problem.toml").read_text()
    head, rest = toml.split("[[splits.train]]", 1)
    (root / "problem.toml").write_text(head + SMALL_SPLITS + rest[rest.index("[memory]"):])
    done = subprocess.run([sys.executable, str(root / "data" / "make_references.py"), "--seconds", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.mark.slow
def test_offline_evolve_writes_a_valid_standalone_solver(tmp_path):
    problem = small_problem(tmp_path)
    solver = evolve_standalone(problem, tmp_path, evaluations=8, metric="gap_percent")
    result = load_problem(problem).evaluate(solver, split="test")
    assert result["valid"], result["error"]
