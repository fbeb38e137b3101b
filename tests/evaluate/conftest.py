"""Sandbox tests run twice: workers forked from the warm parent, and freshly started workers."""
from __future__ import annotations

import sys

import pytest

MODES = ["warm", "fresh"] if sys.platform == "linux" else ["fresh"]


@pytest.fixture(params=MODES, autouse=True)
def sandbox_mode(request, monkeypatch):
    """Select how Sandbox starts its worker (``BEAM_SANDBOX``), for every test in this folder."""
    monkeypatch.setenv("BEAM_SANDBOX", request.param)
    return request.param
