"""Shared EPLB fixtures for the HeuBase pipeline tests: the problem's shapes, traffic, plan checks."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from heubase.eplb.plan import gpu_loads

from beam.problem import import_by_path

EPLB = Path(__file__).resolve().parents[2] / "problems" / "eplb"


metrics = import_by_path(EPLB / "metrics.py", "beam_problem_eplb_metrics")
workloads = import_by_path(EPLB / "workloads.py", "beam_problem_eplb_workloads")

# (name, slots, groups, nodes, gpus, hierarchical) as in problems/eplb/problem.toml
SHAPES = [("4-nodes-32-gpus", 288, 8, 4, 32, True), ("1-node-64-gpus", 320, 8, 1, 64, True),
          ("3-nodes-24-gpus-global", 288, 8, 3, 24, False)]

# (experts, slots, groups, nodes, gpus): uneven splits, one slot per GPU, no spare slots, one GPU, many nodes
ODD_SHAPES = [(16, 24, 4, 2, 4), (12, 18, 3, 2, 6), (24, 36, 6, 2, 6), (32, 48, 8, 2, 4), (16, 16, 4, 4, 8),
              (16, 32, 4, 1, 32), (8, 24, 2, 2, 2), (20, 42, 4, 3, 6), (6, 12, 1, 1, 1), (64, 72, 8, 8, 8)]



def odd_shape_loads(experts: int, slots: int) -> torch.Tensor:
    """``[5, experts]`` whole-number loads (seeded by the shape) with an idle layer and a layer of ties."""
    gen = torch.Generator().manual_seed(experts + slots)
    weight = (1000 * torch.rand(5, experts, generator=gen) ** 4).round()
    weight[0] = 0.0                                                                     # an idle layer
    weight[1, : experts // 2] = 7.0                                                    # ties
    return weight


@pytest.fixture(scope="module")
def windows() -> torch.Tensor:
    return torch.from_numpy(workloads.generate(20250303, windows=4))


def check_valid(plan, weight, slots, groups, nodes, gpus, hierarchical) -> None:
    """Assert that ``plan`` is a valid DeepSeek triple (and keeps groups on nodes where ``hierarchical``)."""
    outputs = [t.numpy() for t in plan]
    metrics.check_plan(outputs, weight.shape[0], weight.shape[1], slots)
    if hierarchical:
        assert metrics.group_locality(outputs[0], groups, weight.shape[1], nodes) == 1.0


def gpu_balance(weight: torch.Tensor, plan, gpus: int) -> float:
    """Mean over max GPU load of ``plan`` on ``weight``, summed over layers."""
    loads = gpu_loads(weight, plan[0], gpus, plan[2])
    return float(loads.mean(1).sum() / loads.amax(1).sum())
