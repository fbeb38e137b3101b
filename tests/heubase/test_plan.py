"""heubase.eplb.plan: slot→GPU maps, loads and log2phy on hand-computed cases."""
from __future__ import annotations

import pytest
import numpy as np
import torch

from heubase.eplb.plan import (assemble_slots, build_log2phy, checked_counts, gpu_loads, gpu_of_slot, pack_loads,
                               pack_sizes, replica_counts, slot_loads)

# 4 experts, 6 slots on 3 GPUs of 2 slots; expert 0 and 1 have two replicas each.
PHY2LOG = torch.tensor([[0, 3, 0, 2, 1, 1]])
WEIGHT = torch.tensor([[12.0, 2.0, 4.0, 2.0]])


def test_gpu_of_slot():
    assert gpu_of_slot(6, 3).tolist() == [0, 0, 1, 1, 2, 2]
    assert gpu_of_slot(4, 1).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError):
        gpu_of_slot(7, 3)
    with pytest.raises(ValueError):
        gpu_of_slot(6, 0)


def test_replica_counts():
    assert replica_counts(PHY2LOG, 4).tolist() == [[2, 2, 1, 1]]
    assert replica_counts(torch.tensor([[1, 1, 1]]), 3).tolist() == [[0, 3, 0]]


def test_slot_and_gpu_loads_by_hand():
    # per replica: e0 12/2 = 6, e1 2/2 = 1, e2 4, e3 2
    assert slot_loads(WEIGHT, PHY2LOG).tolist() == [[6.0, 2.0, 6.0, 4.0, 1.0, 1.0]]
    assert gpu_loads(WEIGHT, PHY2LOG, 3).tolist() == [[8.0, 10.0, 2.0]]
    assert gpu_loads(WEIGHT, PHY2LOG, 1).tolist() == [[20.0]]
    # explicit counts are used as given
    explicit = torch.tensor([[4, 2, 1, 1]])
    assert slot_loads(WEIGHT, PHY2LOG, explicit).tolist() == [[3.0, 2.0, 3.0, 4.0, 1.0, 1.0]]
    with pytest.raises(ValueError):
        gpu_loads(WEIGHT, PHY2LOG, 4)


def test_build_log2phy_by_hand():
    log2phy, logcnt = build_log2phy(PHY2LOG, 4)
    assert logcnt.tolist() == [[2, 2, 1, 1]]
    assert log2phy.tolist() == [[[0, 2], [4, 5], [3, -1], [1, -1]]]
    assert log2phy.dtype == torch.int64


def test_build_log2phy_round_trip_random():
    gen = torch.Generator().manual_seed(0)
    layers, experts, slots = 5, 7, 19
    # every expert at least once, then random extra replicas, shuffled per layer
    extra = torch.randint(0, experts, (layers, slots - experts), generator=gen)
    plan = torch.cat([torch.arange(experts).expand(layers, experts), extra], 1)
    plan = plan.gather(1, torch.argsort(torch.rand(layers, slots, generator=gen), 1))
    log2phy, logcnt = build_log2phy(plan, experts)
    assert torch.equal(logcnt, replica_counts(plan, experts))
    assert log2phy.shape == (layers, experts, int(logcnt.max()))
    for layer in range(layers):
        seen = []
        for e in range(experts):
            row = log2phy[layer, e].tolist()
            count = int(logcnt[layer, e])
            assert all(s >= 0 for s in row[:count]) and all(s == -1 for s in row[count:])
            assert row[:count] == sorted(row[:count])
            assert all(int(plan[layer, s]) == e for s in row[:count])
            seen.extend(row[:count])
        assert sorted(seen) == list(range(slots))       # every slot exactly once


def test_assemble_slots_orders_by_pack_then_item():
    packs = torch.tensor([[1, 0, 1, 0], [0, 0, 1, 1]])
    values = torch.tensor([[10, 11, 12, 13], [20, 21, 22, 23]])
    assert assemble_slots(values, packs).tolist() == [[11, 13, 10, 12], [20, 21, 22, 23]]


def test_pack_sizes_and_loads():
    packs = torch.tensor([[1, 0, 1, 0]])
    weights = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert pack_sizes(packs, 2).tolist() == [[2, 2]]
    assert pack_loads(weights, packs, 2).tolist() == [[6.0, 4.0]]


def test_doctests():
    import doctest

    import heubase.eplb.plan as module
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("counts, message", [
    (torch.tensor([[2.5, 1.5]]), "whole replica counts"),
    (torch.tensor([[float("nan"), 1.0]]), "whole replica counts"),
    (torch.tensor([[3, 0]]), "no replica"),
    (torch.tensor([[2, 2]]), "exactly 3 replicas"),
    (torch.tensor([2, 1]), "shape"),
    ([[2, 1]], "shape"),
    (torch.tensor([[2, 1]], dtype=torch.complex64), "real replica counts"),
])
def test_checked_counts_names_the_replicator(counts, message):
    with pytest.raises(ValueError, match=f"func_7 .*{message}"):
        checked_counts(counts, torch.ones(1, 2), 3, "func_7")


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.float32, torch.float64, torch.bfloat16, torch.bool])
def test_checked_counts_returns_int64_counts(dtype):
    want = [[1, 1], [1, 1]] if dtype == torch.bool else [[2, 1], [1, 2]]
    counts = torch.tensor(want, dtype=dtype)
    checked = checked_counts(counts, torch.ones(2, 2), sum(want[0]))
    assert checked.dtype == torch.int64 and checked.tolist() == want


def test_compiled_count_checks_fail_as_the_numpy_checks(monkeypatch):
    import heubase.eplb.plan as plan

    rng = np.random.default_rng(3)
    outcomes = set()
    for trial in range(200):
        low, high = (0 if trial % 2 else -1), (5 if trial % 3 else 13)
        counts = torch.from_numpy(rng.integers(low, high, (int(rng.integers(1, 6)), 4)))
        if trial % 4 == 0:
            counts = counts.T.contiguous().T                                  # strided
        slots = int(rng.integers(6, 12))
        if trial % 10 == 0:                                                   # valid counts
            valid = np.ones((3, 4), dtype=np.int64)
            valid[:, trial // 10 % 4] += slots - 4
            counts = torch.from_numpy(valid)

        def outcome():
            try:
                return plan.checked_counts(counts, torch.ones(counts.shape), slots, "func_3").tolist()
            except ValueError as exc:
                return str(exc)
        got = outcome()
        with monkeypatch.context() as patch:
            patch.setattr(plan, "COUNTS_ROWS", None)
            want = outcome()
        assert got == want, (counts, slots)
        kinds = ("no replica", "more than", "exactly")
        outcomes.add(next((kind for kind in kinds if kind in got), got) if isinstance(got, str) else "ok")
    assert outcomes == {"no replica", "more than", "exactly", "ok"}          # every failure, and passes
