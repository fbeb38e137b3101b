"""Trace loaders (problems/eplb/traces.py) on small files written here in the serving systems' formats."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pathlib import Path

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
traces = import_by_path(ROOT / "problems" / "eplb" / "traces.py", "beam_problem_eplb_traces")
workloads = import_by_path(ROOT / "problems" / "eplb" / "workloads.py", "beam_problem_eplb_workloads")


def stat_dump(path, counts: torch.Tensor) -> None:
    """What SGLang's stat recorder writes: a dict with rank, logical_count [S, L, E] int32, utilisation."""
    torch.save({"rank": 0, "logical_count": counts.to(torch.int32),
                "average_utilization_rate_over_window": None}, path)


def test_sglang_stat_drops_unfilled_rows_and_dense_layers(tmp_path):
    counts = torch.zeros(5, 4, 6, dtype=torch.int32)           # 5 buffer rows, 4 hidden layers, 6 experts
    counts[0, 1:] = 1                                          # layer 0 is dense: zero everywhere
    counts[2, 1:, 0] = 7
    counts[3, 2, 5] = 2                                        # rows 1 and 4 were never filled
    stat_dump(tmp_path / "d.pt", counts)
    trace = traces.load_trace(tmp_path / "d.pt")
    assert trace.kind == "sglang-stat"
    assert trace.steps.shape == (3, 3, 6) and trace.steps.dtype == np.int64
    assert trace.layer_ids == [1, 2, 3] and trace.hidden_layers == 4
    # weight = sum of the three filled rows, MoE layers only (worked by hand)
    assert trace.weight()[0].tolist() == [8, 1, 1, 1, 1, 1]
    assert trace.weight()[1].tolist() == [8, 1, 1, 1, 1, 3]
    everything = traces.load_trace(tmp_path / "d.pt", layers="all")
    assert everything.steps.shape == (3, 4, 6) and everything.layer_ids == [0, 1, 2, 3]


def test_sglang_per_pass_maps_physical_counts_and_sums_ranks(tmp_path):
    # 1 layer, 4 physical slots holding experts [0, 1, 1, 2]
    phy2log = torch.tensor([[0, 1, 1, 2]])
    rank0 = {"records": [{"forward_pass_id": 7, "rank": 0, "gatherer_key": "primary",
                          "global_physical_count": torch.tensor([[1, 2, 3, 4]], dtype=torch.int32)},
                         {"forward_pass_id": 3, "rank": 0, "gatherer_key": "primary",
                          "global_physical_count": torch.tensor([[5, 0, 0, 0]], dtype=torch.int32)}],
             "last_physical_to_logical_map": phy2log}
    rank1 = {"records": [{"forward_pass_id": 7, "rank": 1, "gatherer_key": "primary",
                          "global_physical_count": torch.tensor([[0, 0, 1, 1]], dtype=torch.int32)}],
             "last_physical_to_logical_map": phy2log}
    torch.save(rank0, tmp_path / "r0.pt")
    torch.save(rank1, tmp_path / "r1.pt")
    trace = traces.load_trace(tmp_path / "r0.pt", rank_files=[tmp_path / "r1.pt"])
    assert trace.kind == "sglang-per-pass"
    # pass 3 first (time order): expert 0 gets 5; pass 7: e0 1, e1 2+3+1=6, e2 4+1=5
    assert trace.steps[:, 0].tolist() == [[5, 0, 0], [1, 6, 5]]
    assert trace.placement.tolist() == [[0, 1, 1, 2]]


def test_json_logical_count_two_and_three_dims(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"logical_count": [[1, 2], [3, 4]]}))
    (tmp_path / "b.json").write_text(json.dumps({"logical_count": [[[1, 2]], [[0, 0]], [[3, 4]]]}))
    a = traces.load_trace(tmp_path / "a.json")
    assert a.steps.shape == (1, 2, 2) and a.weight().tolist() == [[1, 2], [3, 4]]
    b = traces.load_trace(tmp_path / "b.json")
    assert b.steps.shape == (2, 1, 2) and b.weight().tolist() == [[4, 6]]


def test_json_and_pt_placement_only(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"physical_to_logical_map": [[0, 1, 1], [1, 0, 0]]}))
    trace = traces.load_trace(tmp_path / "p.json")
    assert trace.steps is None and trace.placement.tolist() == [[0, 1, 1], [1, 0, 0]]
    torch.save({"physical_to_logical_map": torch.tensor([[2, 0, 1]])}, tmp_path / "p.pt")
    assert traces.load_trace(tmp_path / "p.pt").placement.tolist() == [[2, 0, 1]]
    with pytest.raises(traces.WorkloadError, match="placement only"):
        trace.weight()


def test_npz_is_read_as_steps(tmp_path):
    load = np.arange(2 * 3 * 4, dtype=np.int64).reshape(2, 3, 4) + 1
    workloads.save_npz(tmp_path / "w.npz", load)
    trace = traces.load_trace(tmp_path / "w.npz")
    np.testing.assert_array_equal(trace.steps, load)
    assert trace.windows(2).shape == (2, 3, 4)


@pytest.mark.parametrize("name, content, message", [
    ("list.json", [1, 2], "expected a dict"),
    ("keys.json", {"counts": [[1]]}, "no 'logical_count', 'records' or 'physical_to_logical_map'"),
    ("ragged.json", {"logical_count": [[1, 2], [3]]}, "ragged"),
    ("frac.json", {"logical_count": [[1.5, 2]]}, "non-integer"),
    ("neg.json", {"logical_count": [[1, -2]]}, "negative"),
    ("dims.json", {"logical_count": [1, 2]}, r"expected \[L, E\] or \[S, L, E\]"),
    ("zero.json", {"logical_count": [[[0, 0]], [[0, 0]]]}, "every recorded step is empty"),
    ("negmap.json", {"physical_to_logical_map": [[0, -1]]}, "negative expert ids"),
])
def test_malformed_json_names_file_and_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(json.dumps(content))
    with pytest.raises(traces.WorkloadError, match=message) as info:
        traces.load_trace(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_malformed_pt_files(tmp_path):
    torch.save({"logical_count": torch.zeros(2, 3, dtype=torch.int32)}, tmp_path / "dims.pt")
    torch.save({"logical_count": torch.ones(2, 3, 4)}, tmp_path / "float.pt")
    torch.save({"records": [{"global_physical_count": torch.ones(1, 3, dtype=torch.int32)}],
                "last_physical_to_logical_map": torch.tensor([[0, 1, 1, 0]])}, tmp_path / "shape.pt")
    torch.save({"records": []}, tmp_path / "nomap.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    (tmp_path / "x.csv").write_text("1,2")
    cases = {"dims.pt": "expected [steps, layers, experts]", "float.pt": "expected integers",
             "shape.pt": "has shape [1, 3], the placement [1, 4]", "nomap.pt": "no 'last_physical_to_logical_map'",
             "junk.pt": "torch.save file", "x.csv": "unknown trace suffix", "missing.pt": "file not found"}
    for name, message in cases.items():
        with pytest.raises(traces.WorkloadError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
            traces.load_trace(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)


def test_pickled_objects_are_refused(tmp_path):
    import argparse

    torch.save({"logical_count": argparse.Namespace(x=1)}, tmp_path / "evil.pt")
    with pytest.raises(traces.WorkloadError, match="weights-only loader refuses"):
        traces.load_trace(tmp_path / "evil.pt")


def _beam(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "beam.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_inspect_reports_shape_skew_and_reference_balance(tmp_path):
    counts = torch.zeros(6, 4, 16, dtype=torch.int32)
    counts[:, 1:, :] = 10
    counts[:, 1:, 0] = 170                                 # expert 0: 170 of 320 per layer and step
    stat_dump(tmp_path / "s.pt", counts)
    out = _beam("eplb", "inspect", str(tmp_path / "s.pt"), "--replicas", "16", "--groups", "1", "--nodes", "1",
                "--gpus", "4", "--windows", "2", "--top-k", "1")
    assert out.returncode == 0, out.stderr
    assert "layers: 3 kept of 4" in out.stdout and "experts: 16   steps: 6" in out.stdout
    # max/mean = 170 / 20 = 8.5; top-1 share = 170 / 320 = 0.531
    assert "max_over_mean 8.500" in out.stdout and "top1_share 0.531" in out.stdout
    # no replicas (R = E): GPU 0 holds expert 0 and three cold ones -> 200 of mean 80: 0.4
    assert "no EPLB 0.4000" in out.stdout and "DeepSeek policy on the same data 0.4000" in out.stdout


def test_cli_inspect_malformed_file_is_one_line_exit_2(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    out = _beam("eplb", "inspect", str(tmp_path / "bad.json"))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "bad.json: invalid JSON" in out.stderr
