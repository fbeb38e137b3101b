"""Fixtures for executor tests: complete candidate programs and one local Ray instance."""
from __future__ import annotations

import textwrap

import pytest

# a complete program as the search writes it: a hyperparameter block and the entry function
REFERENCE_PROGRAM = textwrap.dedent("""
    from heubase.eplb.reference import rebalance_experts as reference

    #Hyperparameter#
    MAX_TIME = 0.05
    #Hyperparameter#

    def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
        return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
""")


@pytest.fixture
def reference_program() -> str:
    """The reference solver as a complete program."""
    return REFERENCE_PROGRAM


@pytest.fixture
def failing_program() -> str:
    """A complete program whose entry function always raises."""
    return REFERENCE_PROGRAM.replace("return reference(", "raise RuntimeError('this solver always fails'); (")


@pytest.fixture
def sandbox_env(monkeypatch):
    """Undo an executor's process-wide sandbox choice after the test."""
    monkeypatch.delenv("BEAM_SANDBOX", raising=False)


@pytest.fixture(scope="session")
def ray_instance():
    """A local Ray instance with two CPUs for the whole session (skipped without the ray package)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
