"""`beam evolve problems/bbob` end to end with the offline composer, on tiny splits."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tiny_evolve import evolve_standalone

from beam.problem import load_problem
from bbob_helpers import BBOB

SMALL_SPLITS = """
[[splits.validation]]
name = "{function} (val)"
functions = ["bbob:1", "bbob:15"]
dims = [3]
instances = [1]
seed = 11
budget_per_dim = 100

[[splits.test]]
name = "{function}"
functions = ["ackley"]
dims = [3]
instances = [1]
seed = 13
budget_per_dim = 100

"""


def small_problem(folder: Path) -> Path:
    """problems/bbob with two 3-D functions and 300 evaluations per run."""
    root = folder / "bbob"
    shutil.copytree(BBOB, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (root / "problem.toml").read_text()
    head, rest = toml.split("[[splits.train]]", 1)
    (root / "problem.toml").write_text(head + SMALL_SPLITS + rest[rest.index("[memory]"):])
    return root


@pytest.mark.slow
def test_offline_evolve_writes_a_valid_standalone_optimiser(tmp_path):
    problem = small_problem(tmp_path)
    solver = evolve_standalone(problem, tmp_path, evaluations=8, metric="log_gap")
    result = load_problem(problem).evaluate(solver, split="test", reference=False)
    assert result["valid"], result["error"]
