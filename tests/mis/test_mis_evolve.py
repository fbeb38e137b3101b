"""`beam evolve problems/mis` end to end with the offline composer, on tiny splits."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiny_evolve import evolve_standalone

from beam.problem import load_problem
from mis_helpers import MIS

SMALL_SPLITS = """
[[splits.validation]]
name = "RB-200-300 (tiny val)"
kind = "rb"
preset = "RB-200-300"
instances = 2
seed = 91
time_limit_s = 0.3

[[splits.test]]
name = "RB-200-300 (tiny test)"
kind = "rb"
preset = "RB-200-300"
instances = 1
seed = 93
time_limit_s = 0.3

"""


def small_problem(folder: Path) -> Path:
    """problems/mis with three small graphs at 0.3 s and 1 s KaMIS references (computed on the fly)."""
    root = folder / "mis"
    shutil.copytree(MIS, root, ignore=shutil.ignore_patterns("__pycache__", "data"))
    toml = (root / "problem.toml").read_text()
    head, rest = toml.split("[[splits.train]]", 1)
    tail = rest[rest.index("[memory]"):]
    head = head.replace('"RB-200-300" = 5.0', '"RB-200-300" = 1.0')
    (root / "problem.toml").write_text(head + SMALL_SPLITS + tail)
    return root


@pytest.mark.slow
def test_offline_evolve_writes_a_valid_standalone_solver(tmp_path):
    problem = small_problem(tmp_path)
    solver = evolve_standalone(problem, tmp_path, evaluations=6, metric="gap_percent")
    result = load_problem(problem).evaluate(solver, split="test")
    assert result["valid"], result["error"]
