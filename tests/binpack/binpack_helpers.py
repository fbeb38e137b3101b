"""Helpers for bin-packing tests: problem folder modules are imported by path (they are not packages)."""
from __future__ import annotations

from pathlib import Path

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
BINPACK = ROOT / "problems" / "binpack"


def load_binpack_module(name: str):
    return import_by_path(BINPACK / f"{name}.py", f"beam_problem_binpack_{name}")
