"""Helpers for EPLB tests: problem folder modules are imported by path (they are not packages)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EPLB = ROOT / "problems" / "eplb"


def load_eplb_module(name: str):
    key = f"beam_problem_eplb_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EPLB / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="session")
def eplb_metrics():
    return load_eplb_module("metrics")
