"""`beam evolve problems/binpack` end to end with the offline composer, on small splits."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beam.problem import load_problem
from binpack_helpers import BINPACK, ROOT

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
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", str(problem), "--generations", "1",
                           "--population", "2", "--evaluations", "10", "--seed", "3", "--run-dir",
                           str(tmp_path / "run"), "--examples-dir", str(tmp_path / "examples")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test split: fitness" in done.stdout and "excess_percent" in done.stdout
    solver = tmp_path / "examples" / "binpack" / "solver.py"
    assert "heubase" not in "".join(l for l in solver.read_text().splitlines() if l.startswith(("import", "from")))
    result = load_problem(problem).evaluate(solver, split="test")
    assert result["valid"], result["error"]
    readme = (tmp_path / "examples" / "binpack" / "README.md").read_text()
    assert "| dataset | metric |" in readme and "excess_percent" in readme
