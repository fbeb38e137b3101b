"""`beam evolve problems/mis` end to end with the offline composer, on tiny splits."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beam.problem import load_problem
from mis_helpers import MIS, ROOT

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
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", str(problem), "--generations", "1",
                           "--population", "2", "--evaluations", "6", "--seed", "3", "--run-dir",
                           str(tmp_path / "run"), "--examples-dir", str(tmp_path / "examples")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test split: fitness" in done.stdout and "gap_percent" in done.stdout
    solver = tmp_path / "examples" / "mis" / "solver.py"
    assert "heubase" not in "".join(l for l in solver.read_text().splitlines() if l.startswith(("import", "from")))
    result = load_problem(problem).evaluate(solver, split="test")
    assert result["valid"], result["error"]
    readme = (tmp_path / "examples" / "mis" / "README.md").read_text()
    assert "| dataset | metric |" in readme and "gap_percent" in readme
