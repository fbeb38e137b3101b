"""beam/evaluate/datasets.py: one real sandbox scoring several datasets in order, warm-up first, errors out."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

from beam.evaluate import SandboxError, SandboxLimits
from beam.evaluate.datasets import evaluation_deadline, score_datasets

CANDIDATE = """
import numpy as np
calls = []

def solve(values, tag):
    calls.append(tag)
    if tag == "boom":
        raise RuntimeError("candidate failed on purpose")
    return np.array([values.sum(), len(calls)], dtype=np.float64)
"""


@dataclass
class Data:
    name: str
    values: np.ndarray


def test_deadline_from_the_limits_table():
    assert evaluation_deadline({}) is None and evaluation_deadline({"evaluation_timeout_s": 0}) is None
    before = time.perf_counter()
    deadline = evaluation_deadline({"evaluation_timeout_s": 30})
    assert before + 29 < deadline <= time.perf_counter() + 30


def test_every_dataset_is_scored_in_one_sandbox_in_order_after_the_warm_up(tmp_path):
    path = tmp_path / "candidate.py"
    path.write_text(CANDIDATE)
    datasets = [Data("a", np.arange(3.0)), Data("b", np.ones(4))]
    seen_deadlines = []

    def score(box, data, deadline):
        seen_deadlines.append(deadline)
        total, call_number = box.call(data.values, data.name).outputs[0].tolist()
        return {"total": total, "call": call_number}

    results, enforced = score_datasets(path, "solve", SandboxLimits(), {"evaluation_timeout_s": 60}, datasets,
                                       score, warm_up=lambda box: box.call(np.zeros(1), "warm-up"))
    assert list(results) == ["a", "b"]
    assert results["a"] == {"total": 3.0, "call": 2.0} and results["b"] == {"total": 4.0, "call": 3.0}  # one process
    assert "rlimit cpu" in enforced                      # what the sandbox enforced, for the result
    assert len(set(seen_deadlines)) == 1 and seen_deadlines[0] is not None


def test_a_failing_candidate_raises_for_the_caller_to_report(tmp_path):
    path = tmp_path / "candidate.py"
    path.write_text(CANDIDATE)

    def score(box, data, deadline):
        return {"out": box.call(data.values, data.name).outputs[0].tolist()}

    with pytest.raises(SandboxError) as caught:
        score_datasets(path, "solve", SandboxLimits(), {}, [Data("fine", np.ones(2)), Data("boom", np.ones(2))], score)
    assert "on purpose" in caught.value.message
