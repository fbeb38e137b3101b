"""Where solvers get their inputs: the evaluator's device option (CPU always; CUDA where a GPU exists)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from beam.evaluate import Sandbox, SandboxLimits, resolve_device
from beam.problem import load_problem

EPLB_DIR = Path(__file__).resolve().parents[2] / "problems" / "eplb"

HAS_CUDA = torch.cuda.is_available()


def device_probe(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(textwrap.dedent("""
        import torch
        def solve(w):
            return torch.tensor([1 if w.is_cuda else 0]), (w * 2).cpu()
    """))
    return path


def test_cpu_inputs_stay_on_cpu(tmp_path):
    window = np.arange(6, dtype=np.int64).reshape(2, 3)
    with Sandbox(device_probe(tmp_path), "solve", SandboxLimits(device="cpu")) as box:
        result = box.call(window)
    assert result.outputs[0][0] == 0 and np.array_equal(result.outputs[1], window * 2)


def test_device_names_are_checked():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if HAS_CUDA else "cpu")
    with pytest.raises(ValueError, match="choose cpu"):
        resolve_device("tpu")
    if not HAS_CUDA:
        with pytest.raises(ValueError, match="no usable CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU")
def test_cuda_inputs_are_on_the_gpu_before_the_call(tmp_path):
    window = np.arange(6, dtype=np.int64).reshape(2, 3)
    with Sandbox(device_probe(tmp_path), "solve", SandboxLimits(device="cuda")) as box:
        result = box.call(window)
    assert result.outputs[0][0] == 1 and np.array_equal(result.outputs[1], window * 2)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU")
def test_reference_scores_on_cuda_and_records_the_gpu():
    problem = load_problem(EPLB_DIR)
    result = problem.evaluate(problem.file("reference"), split="test", device="cuda")
    assert result["valid"], result["error"]
    assert result["device"] == torch.cuda.get_device_name(0)
    assert result["ms_per_call"] > 0
