"""EPLB metrics and plan validation on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

P = np.array([[0, 3, 0, 2, 1, 1]], dtype=np.int64)          # 4 experts, 6 slots, 3 GPUs of 2 slots
CNT = np.array([[2, 2, 1, 1]], dtype=np.int64)
L2P = np.array([[[0, 2], [4, 5], [3, -1], [1, -1]]], dtype=np.int64)
SHAPE = {"num_gpus": 3, "num_groups": 2, "num_nodes": 1}


def test_loads_and_balance_by_hand(eplb_metrics):
    upcoming = np.array([[12, 2, 4, 2]])
    # per replica: e0 6, e1 1, e2 4, e3 2 -> slots [6, 2, 6, 4, 1, 1] -> GPUs [8, 10, 2]
    assert eplb_metrics.slot_loads(upcoming, P, CNT).tolist() == [[6, 2, 6, 4, 1, 1]]
    assert eplb_metrics.gpu_loads(upcoming, P, CNT, 3).tolist() == [[8, 10, 2]]
    got = eplb_metrics.plan_metrics((P, L2P, CNT), np.array([[8, 4, 2, 2]]), upcoming, SHAPE)
    assert got["balancedness_gpu"] == pytest.approx((20 / 3) / 10)
    assert got["balancedness_expert"] == pytest.approx((20 / 6) / 6)
    # same window: per replica e0 4, e1 2, e2 2, e3 2 -> GPUs [6, 6, 4]
    assert got["balancedness_gpu_same_window"] == pytest.approx((16 / 3) / 6)
    assert got["group_locality"] == 1.0


def test_balance_sums_over_layers_before_dividing(eplb_metrics):
    loads = np.array([[1.0, 3.0], [5.0, 5.0]])
    # means 2 and 5, maxima 3 and 5: (2 + 5) / (3 + 5), not the mean of 2/3 and 1
    assert eplb_metrics.balancedness(loads) == pytest.approx(7 / 8)


def test_group_locality(eplb_metrics):
    local = np.array([[0, 1, 2, 3], [1, 0, 3, 2]])
    split = np.array([[0, 2, 1, 3], [0, 1, 2, 3]])
    assert eplb_metrics.group_locality(local, num_groups=2, experts=4, num_nodes=2) == 1.0
    assert eplb_metrics.group_locality(split, num_groups=2, experts=4, num_nodes=2) == 0.5


def test_valid_plan_passes(eplb_metrics):
    eplb_metrics.check_plan([P, L2P, CNT], 1, 4, 6)


@pytest.mark.parametrize("mutate, message", [
    (lambda p, l, c: [p, l], "expected 3 outputs"),
    (lambda p, l, c: [p.astype(np.int32), l, c], "phy2log must be int64"),
    (lambda p, l, c: [p.astype(np.float64), l, c], "phy2log must be int64"),
    (lambda p, l, c: [p[:, :5], l, c], "phy2log must have shape"),
    (lambda p, l, c: [p, l, c[:, :3]], "logcnt must have shape"),
    (lambda p, l, c: [p, l[0], c], "log2phy must have 3 dimensions"),
    (lambda p, l, c: [np.where(p == 3, 4, p), l, c], "not an expert id"),
    (lambda p, l, c: [np.where(p == 3, 0, p), l, c], "expert 3 of layer 0 has no replica"),
    (lambda p, l, c: [p, l, c + np.array([[1, -1, 0, 0]])], "logcnt[0, 0] = 3"),
    (lambda p, l, c: [p, l[:, :, :1], c], "log2phy has 1 columns"),
    (lambda p, l, c: [p, np.where(l == -1, 5, l), c], "pad the rest with -1"),
    (lambda p, l, c: [p, np.array([[[0, 4], [2, 5], [3, -1], [1, -1]]]), c], "assigns to another expert"),
    (lambda p, l, c: [p, np.array([[[0, 0], [4, 5], [3, -1], [1, -1]]]), c], "exactly once"),
])
def test_invalid_plans_are_rejected_precisely(eplb_metrics, mutate, message):
    with pytest.raises(eplb_metrics.InvalidPlan, match=message.replace("[", r"\[")):
        eplb_metrics.check_plan(mutate(P.copy(), L2P.copy(), CNT.copy()), 1, 4, 6)


def test_duplicate_slot_in_log2phy(eplb_metrics):
    p = np.array([[0, 0, 1]])
    l2p = np.array([[[0, 0], [2, -1]]])
    with pytest.raises(eplb_metrics.InvalidPlan, match="exactly once"):
        eplb_metrics.check_plan([p, l2p, np.array([[2, 1]])], 1, 2, 3)
