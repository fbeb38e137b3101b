"""Fixtures shared by several test folders."""
from __future__ import annotations

from pathlib import Path

import pytest

from reproducible import reproducible_copy


@pytest.fixture(scope="session")
def reproducible_eplb(tmp_path_factory) -> Path:
    """A copy of problems/eplb with tiny workloads, speed excluded from fitness and no too-slow rule."""
    return reproducible_copy(tmp_path_factory.mktemp("reproducible"))
