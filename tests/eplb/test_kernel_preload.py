"""The EPLB problem preloads heubase.eplb.lean: sandboxed candidates get its compiled kernels without compiling."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from beam.evaluate import Sandbox, warm
from beam.problem import load_problem

from heubase.eplb import kernels, lean

pytestmark = pytest.mark.skipif(kernels.DEAL_ROWS is None, reason="numba is not installed")
EPLB = Path(__file__).resolve().parents[2] / "problems" / "eplb"


def test_warm_workers_inherit_the_compiled_kernels_and_plan_as_in_process(tmp_path, monkeypatch):
    monkeypatch.setenv("BEAM_SANDBOX", "warm")
    problem = load_problem(EPLB)
    limits = problem.evaluator().sandbox_limits(problem)
    assert "heubase.eplb.lean" in limits.preload
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent("""
        import sys, time
        import torch
        ALREADY = "heubase.eplb.kernels" in sys.modules       # imported by the warm parent, before this module
        start = time.perf_counter()
        from heubase.eplb import kernels
        from heubase.eplb.lean import rebalance_lean
        IMPORT_S = time.perf_counter() - start

        def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
            compiled = kernels.DEAL_ROWS is not None and len(kernels.DEAL_ROWS.signatures) == 1
            plan = rebalance_lean(weight, num_replicas, num_groups, num_nodes, num_gpus, repack=4)
            return (*plan, torch.tensor([ALREADY, compiled]), torch.tensor([IMPORT_S]))
    """))
    weight = np.random.default_rng(5).random((6, 32)) ** 3
    with Sandbox(probe, "rebalance_experts", limits) as box:
        outputs = box.call(weight, 48, 4, 2, 8).outputs
    pool = warm.shared_pool(limits.torch_threads, limits.preload)
    assert pool.preload_errors == {}
    assert outputs[3].tolist() == [True, True]
    assert outputs[4][0] < 0.5                                   # no compilation in the worker (about 4 s)
    want = lean.rebalance_lean(torch.from_numpy(weight), 48, 4, 2, 8, repack=4)
    assert all(np.array_equal(got, w.numpy()) for got, w in zip(outputs[:3], want))
