"""`beam evolve problems/binpack` end to end with the offline composer, on small splits."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiny_evolve import evolve_standalone

from beam.problem import load_problem
from binpack_helpers import BINPACK

SMALL_SPLITS = """
[[splits.validation]]
name = "uniform 120"
kind = "uniform"
items = 120
instances = 3
seed = 11

[[splits.validation]]
name = "weibull 400"
kind = "weibull"
items = 400
instances = 1
seed = 12

[[splits.test]]
name = "weibull 600"
kind = "weibull"
items = 600
instances = 1
seed = 13

"""


def small_problem(folder: Path) -> Path:
    """problems/binpack with a few hundred items per split (a run takes a minute or two)."""
    root = folder / "binpack"
    shutil.copytree(BINPACK, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (root / "problem.toml").read_text()
    head, rest = toml.split("[[splits.train]]", 1)
    tail = rest[rest.index("[memory]"):]
    (root / "problem.toml").write_text(head + SMALL_SPLITS + tail)
    return root


@pytest.mark.slow
def test_offline_evolve_writes_a_valid_standalone_solver(tmp_path):
    problem = small_problem(tmp_path)
    solver = evolve_standalone(problem, tmp_path, evaluations=10, metric="excess_percent")
    result = load_problem(problem).evaluate(solver, split="test")
    assert result["valid"], result["error"]
