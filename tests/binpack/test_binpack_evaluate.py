"""The bin-packing evaluator end to end: real sandboxes, hand-made datasets, cheating candidates, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from beam.problem import load_problem
from binpack_helpers import BINPACK, ROOT, load_binpack_module

inst = load_binpack_module("instances")
online = load_binpack_module("online")


@pytest.fixture(scope="module")
def problem():
    return load_problem(BINPACK)


def small_sets():
    """Two tiny datasets; the first is the hand-worked 4, 7, 3, 6 (FF 3 bins, BF 2 bins, L1 2)."""
    hand = inst.Dataset("hand", (inst.Instance("h", np.array([4.0, 7.0, 3.0, 6.0]), 10.0),))
    rand = inst.generated({"name": "w", "kind": "weibull", "items": 200, "instances": 2, "seed": 9})
    return [hand, rand]


def solver(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "solver.py"
    path.write_text(textwrap.dedent(body))
    return path


BEST_FIT = """
    import numpy as np
    def priority(item, bins_remain_cap):
        return -(bins_remain_cap - item)
"""


def test_best_fit_candidate_scores_like_the_in_process_loop(problem, tmp_path):
    result = problem.evaluate(solver(tmp_path, BEST_FIT), datasets=small_sets())
    assert result["valid"], result["error"]
    hand = result["datasets"]["hand"]
    assert hand["bins"] == 2 and hand["l1_bound"] == 2 and hand["excess_percent"] == 0.0
    rand = small_sets()[1]
    expected = [online.pack(i.items, i.capacity, lambda item, b: -(b - item)) for i in rand.instances]
    assert result["datasets"]["w"]["bins_per_instance"] == expected
    assert result["fitness"] == pytest.approx(-np.mean([d["excess_percent"] for d in result["datasets"].values()]))
    assert result["datasets"]["w"]["reference"]["bins"] == np.mean(expected)   # best fit is the reference
    assert result["ms_per_item"] > 0


def test_first_fit_candidate_uses_three_bins_on_the_hand_instance(problem, tmp_path):
    result = problem.evaluate(solver(tmp_path, """
        import numpy as np
        def priority(item, bins_remain_cap):
            return -np.arange(len(bins_remain_cap), dtype=float)
    """), datasets=small_sets()[:1])
    assert result["valid"] and result["datasets"]["hand"]["bins"] == 3
    assert result["datasets"]["hand"]["excess_percent"] == pytest.approx(50.0)


@pytest.mark.parametrize("body, kind, words", [
    # a longer array would name a bin that was never offered (e.g. one the item does not fit in)
    ("def priority(item, bins):\n    return np.zeros(len(bins) + 1)\n", "invalid", "shape"),
    ("def priority(item, bins):\n    return np.full(len(bins), np.nan)\n", "invalid", "NaN"),
    # claiming a bin count instead of choosing: one number, not one score per bin
    ("def priority(item, bins):\n    return np.array([3.0])\n", "invalid", "shape"),
    ("def priority(item, bins):\n    return [0.0] * len(bins)\n", "runtime", "tensors or arrays"),
    ("def priority(item, bins):\n    raise RuntimeError('no idea')\n", "runtime", "no idea"),
    ("def priority(item, bins):\n    import time\n    time.sleep(0.05)\n    return bins\n", "too_slow", "budget"),
])
def test_bad_candidates_are_errors_not_crashes(problem, tmp_path, body, kind, words):
    result = problem.evaluate(solver(tmp_path, "import numpy as np\n" + body), datasets=small_sets())
    assert not result["valid"] and result["fitness"] is None
    assert result["error_kind"] == kind and words in result["error"], result["error"]


def test_candidate_gets_only_the_current_item_and_a_copy_of_the_bins(problem, tmp_path):
    # a candidate that empties the bins it is shown cannot change the evaluator's state
    result = problem.evaluate(solver(tmp_path, """
        import numpy as np
        def priority(item, bins_remain_cap):
            scores = -(bins_remain_cap - item)
            bins_remain_cap[:] = 1e9
            return scores
    """), datasets=small_sets()[:1])
    assert result["valid"] and result["datasets"]["hand"]["bins"] == 2


def test_candidate_cannot_read_the_problem_data(problem, tmp_path):
    target = BINPACK / "data" / "funsearch_or3.json"
    result = problem.evaluate(solver(tmp_path, f"""
        import numpy as np
        def priority(item, bins_remain_cap):
            open({str(target)!r}).read()
            return -bins_remain_cap
    """), datasets=small_sets()[:1])
    assert not result["valid"] and result["error_kind"] == "runtime"


def test_cli_json_on_an_orlib_file_and_bad_inputs(tmp_path):
    (tmp_path / "tiny.txt").write_text("1\n u\n 10 4 2\n 4\n 7\n 3\n 6\n")
    path = solver(tmp_path, BEST_FIT)
    done = subprocess.run([sys.executable, "-m", "beam.cli", "eval", str(BINPACK), str(path), "--workloads",
                           str(tmp_path / "tiny.txt"), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["datasets"]["tiny"]["bins"] == 2.0 and result["excess_percent"] == 0.0
    (tmp_path / "broken.txt").write_text("1\n u\n 10 9 2\n 4\n")
    done = subprocess.run([sys.executable, "-m", "beam.cli", "eval", str(BINPACK), str(path), "--workloads",
                           str(tmp_path / "broken.txt")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "broken.txt" in done.stderr and len(done.stderr.strip().splitlines()) == 1
