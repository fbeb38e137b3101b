"""`beam eplb export`: files read back the way SGLang and vLLM read them (minimal re-implementations)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import torch

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SOLVER = "from heubase.eplb.migrate import rebalance_migration_aware as rebalance_experts\n"


def stat_dump(path, hidden=5, dense=2, experts=16, steps=4):
    g = torch.Generator().manual_seed(1)
    counts = torch.zeros(steps, hidden, experts, dtype=torch.int32)
    counts[:, dense:] = (torch.rand(steps, hidden - dense, experts, generator=g) ** 3 * 100).int() + 1
    torch.save({"rank": 0, "logical_count": counts, "average_utilization_rate_over_window": None}, path)


def export(tmp_path, fmt, *extra):
    (tmp_path / "solver.py").write_text(SOLVER)
    out = tmp_path / ("policy_mod.py" if fmt == "vllm" else f"plan_{fmt}.json")
    run = subprocess.run([sys.executable, "-m", "beam.cli", "eplb", "export", str(tmp_path / "solver.py"),
                          str(tmp_path / "trace.pt"), "--format", fmt, "--out", str(out), "--replicas", "20",
                          "--groups", "4", "--nodes", "2", "--gpus", "4", *extra],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    return out, run.stdout


def sglang_init_by_mapping(physical_to_logical_map, num_logical_experts):
    """What SGLang does with the file: keyword call, then logical -> all physical slots (padded with -1)."""
    table = torch.tensor(physical_to_logical_map)
    layers, slots = table.shape
    lists = [[[p for p in range(slots) if table[l, p] == e] for e in range(num_logical_experts)]
             for l in range(layers)]
    width = max(len(x) for row in lists for x in row)
    return table, [[x + [-1] * (width - len(x)) for x in row] for row in lists]


def test_sglang_file_has_only_the_mapping_and_all_hidden_layers(tmp_path):
    stat_dump(tmp_path / "trace.pt")
    out, stdout = export(tmp_path, "sglang")
    data = json.loads(out.read_text())
    assert set(data) == {"physical_to_logical_map"}            # SGLang passes the keys as keyword arguments
    table, log2all = sglang_init_by_mapping(**data, num_logical_experts=16)
    assert table.shape == (5, 20)                              # all 5 hidden layers, dense ones included
    assert table[0].tolist() == [p % 16 for p in range(20)]    # dense rows: the trivial mapping
    for layer in range(2, 5):
        assert all(row[0] != -1 for row in log2all[layer])     # every expert has a slot
    assert "--init-expert-location" in stdout and "--ep-num-redundant-experts 4" in stdout


def test_sglang_dense_layers_option_for_moe_only_traces(tmp_path):
    (tmp_path / "trace.json").write_text(json.dumps({"logical_count": np.ones((3, 16), int).tolist()}))
    (tmp_path / "solver.py").write_text(SOLVER)
    out = tmp_path / "p.json"
    run = subprocess.run([sys.executable, "-m", "beam.cli", "eplb", "export", str(tmp_path / "solver.py"),
                          str(tmp_path / "trace.json"), "--format", "sglang", "--out", str(out), "--replicas", "16",
                          "--groups", "1", "--nodes", "1", "--gpus", "4", "--dense-layers", "2"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert np.array(json.loads(out.read_text())["physical_to_logical_map"]).shape == (5, 16)


def test_json_triple_round_trips(tmp_path):
    stat_dump(tmp_path / "trace.pt")
    out, _ = export(tmp_path, "json")
    data = json.loads(out.read_text())
    phy2log, log2phy, logcnt = (np.array(data[k]) for k in ("phy2log", "log2phy", "logcnt"))
    assert phy2log.shape == (3, 20) and (logcnt.sum(1) == 20).all()
    for layer in range(3):
        for expert in range(16):
            slots = [s for s in log2phy[layer, expert] if s >= 0]
            assert len(slots) == logcnt[layer, expert] and all(phy2log[layer, s] == expert for s in slots)


VLLM_STUB = '''
import sys, types, torch
from abc import ABC
vllm = types.ModuleType("vllm"); dist = types.ModuleType("vllm.distributed")
eplb = types.ModuleType("vllm.distributed.eplb"); pol = types.ModuleType("vllm.distributed.eplb.policy")
abstract = types.ModuleType("vllm.distributed.eplb.policy.abstract")
class AbstractEplbPolicy(ABC): pass
abstract.AbstractEplbPolicy = AbstractEplbPolicy
pol.EPLB_POLICIES = {"default": None}; pol.abstract = abstract; eplb.policy = pol
for name, mod in [("vllm", vllm), ("vllm.distributed", dist), ("vllm.distributed.eplb", eplb),
                  ("vllm.distributed.eplb.policy", pol), ("vllm.distributed.eplb.policy.abstract", abstract)]:
    sys.modules[name] = mod
sys.path.insert(0, sys.argv[1])
import policy_mod
policy_mod.register(); policy_mod.register()
policy = pol.EPLB_POLICIES["default"]
assert issubclass(policy, AbstractEplbPolicy)
g = torch.Generator().manual_seed(0)
window = (torch.rand(7, 3, 16, generator=g) * 50).int()      # vLLM may hand a window of steps
first = policy.rebalance_experts(window.sum(0), 20, 4, 2, 4)
second = policy.rebalance_experts(window, 20, 4, 2, 4, first)   # the newer interface passes the old map
for plan in (first, second):
    assert plan.device.type == "cpu" and plan.dtype == torch.int64 and tuple(plan.shape) == (3, 20)
    assert all(len(set(row.tolist())) == 16 for row in plan)
print("ok")
'''


def test_vllm_policy_module_loads_as_default_policy(tmp_path):
    stat_dump(tmp_path / "trace.pt")
    out, stdout = export(tmp_path, "vllm")
    assert "vllm.general_plugins" in stdout
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(VLLM_STUB), str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_export_errors_are_one_line(tmp_path):
    (tmp_path / "solver.py").write_text("x = 1\n")
    (tmp_path / "t.json").write_text(json.dumps({"logical_count": [[1, 2, 3, 4]]}))
    run = subprocess.run([sys.executable, "-m", "beam.cli", "eplb", "export", str(tmp_path / "solver.py"),
                          str(tmp_path / "t.json"), "--format", "json", "--gpus", "2", "--nodes", "1",
                          "--groups", "1", "--replicas", "4"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "defines no function named 'rebalance_experts'" in run.stderr
    assert run.stderr.count("\n") == 1
