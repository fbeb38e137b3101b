"""Helpers for EPLB tests: problem folder modules are imported by path (they are not packages)."""
from __future__ import annotations

from pathlib import Path

import pytest

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
EPLB = ROOT / "problems" / "eplb"


def load_eplb_module(name: str):
    return import_by_path(EPLB / f"{name}.py", f"beam_problem_eplb_{name}")


@pytest.fixture(scope="session")
def eplb_metrics():
    return load_eplb_module("metrics")
