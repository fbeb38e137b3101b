"""The fused skeleton at its defaults, realised with library defaults, beats the reference on every shape.

`problems/eplb/skeletons/fast_fused_swaps.py` says so in its docstring, and the
small-budget search relies on it (the composer tries each component first at
its library defaults). Scored in process with the evaluator's own metrics on
both synthetic splits, against the reference solver on the same windows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from beam.problem import import_by_path, load_problem
from beam.program import Program

EPLB = Path(__file__).resolve().parents[2] / "problems" / "eplb"

REALISED = {
    "func_1": "def func_1(weight: torch.Tensor, smoothing: float) -> torch.Tensor:\n"
              "    from heubase.eplb.hedge import shrink_to_mean\n"
              "    return shrink_to_mean(weight, smoothing=smoothing)\n",
    "func_2": "def func_2(weight: torch.Tensor, num_slots: int) -> torch.Tensor:\n"
              "    from heubase.eplb.replicate import replicate_proportional\n"
              "    return replicate_proportional(weight, num_slots)\n",
}
MARGIN = 0.005


def margins(problem, solve, reference, split: str) -> dict[str, tuple[float, float]]:
    """Per shape: mean (next, same) GPU balance of ``solve`` minus the reference's."""
    evaluator = problem.evaluator()
    windows = evaluator.load_windows(problem, split)
    layers, experts = windows.shape[1:]
    out = {}
    for shape in problem.config["shapes"]:
        args = (shape["num_replicas"], shape["num_groups"], shape["num_nodes"], shape["num_gpus"])
        diffs = []
        for t in range(len(windows) - 1):
            scores = []
            for solver in (solve, reference):
                outputs = solver(torch.from_numpy(windows[t].copy()), *args)
                plan = evaluator.metrics.check_plan([o.numpy() for o in outputs], layers, experts, args[0])
                m = evaluator.metrics.plan_metrics(plan, windows[t], windows[t + 1], shape)
                scores.append((m["balancedness_gpu"], m["balancedness_gpu_same_window"]))
            diffs.append(np.subtract(*scores))
        out[shape["name"]] = tuple(np.mean(diffs, axis=0))
    return out


@pytest.mark.parametrize("split", ["validation", "test"])
def test_skeleton_defaults_beat_the_reference_on_both_windows_of_every_shape(split, tmp_path):
    problem = load_problem(EPLB)
    program = Program.parse((EPLB / "skeletons" / "fast_fused_swaps.py").read_text())
    path = tmp_path / "defaults.py"
    path.write_text(program.with_functions(REALISED).source)
    solve = getattr(import_by_path(path, f"skeleton_defaults_{split}"), problem.entry)
    reference = getattr(import_by_path(problem.file("reference"), "skeleton_defaults_reference"), problem.entry)
    found = margins(problem, solve, reference, split)
    assert set(found) == {shape["name"] for shape in problem.config["shapes"]}
    for name, (next_window, same_window) in found.items():
        assert next_window > MARGIN and same_window > MARGIN, (name, next_window, same_window)
