"""Shared helpers of the BBOB tests: paths and the problem's modules (problems are not packages)."""
from __future__ import annotations

import textwrap
from pathlib import Path

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
BBOB = ROOT / "problems" / "bbob"


def load_bbob_module(name: str):
    return import_by_path(BBOB / f"{name}.py", f"beam_problem_bbob_{name}")


def write_solver(folder: Path, body: str, name: str = "solver.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path
