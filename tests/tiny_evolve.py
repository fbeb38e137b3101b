"""Run a tiny offline `beam evolve` of a problem folder end to end (shared by the problems' slow evolve tests)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def evolve_standalone(problem: Path, tmp_path: Path, evaluations: int, metric: str | None = None) -> Path:
    """``beam evolve`` of ``problem`` (1 generation, population 2, seed 3) through the CLI; checks that it
    succeeds, prints the test split, and writes a solver with no HeuBase import and a
    README table (naming ``metric``). Returns the solver's path."""
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", str(problem), "--generations", "1",
                           "--population", "2", "--evaluations", str(evaluations), "--seed", "3", "--run-dir",
                           str(tmp_path / "run"), "--examples-dir", str(tmp_path / "examples")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test split: fitness" in done.stdout
    written = tmp_path / "examples" / problem.name
    solver = written / "solver.py"
    imports = "".join(line for line in solver.read_text().splitlines() if line.startswith(("import", "from")))
    assert "heubase" not in imports
    readme = (written / "README.md").read_text()
    assert "| dataset | metric |" in readme
    if metric is not None:
        assert metric in readme
    return solver
