"""heubase.eplb.lean ``repack``: packing-aware replica moves (move_replicas, hot_pack_experts)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from eplb_cases import ODD_SHAPES, SHAPES, check_valid, gpu_balance, odd_shape_loads, windows  # noqa: F401  (fixture)

from heubase.eplb import lean
from heubase.eplb.replicate import move_replicas, proportional_shares


def test_move_replicas_takes_from_the_cheapest_donors_and_keeps_the_sums():
    rng = np.random.default_rng(5)
    weight = rng.gamma(0.6, 1.0, (40, 30)) * 100
    counts = proportional_shares(weight, 45)
    receivers = np.argsort(-weight / counts, axis=1)[:, :3]
    moved = move_replicas(weight, counts, receivers)
    assert (moved >= 1).all() and (moved.sum(1) == 45).all()
    assert (np.take_along_axis(moved - counts, receivers, 1) == 1).all()
    for row in range(40):
        lost = np.flatnonzero(moved[row] < counts[row])
        assert len(lost) == 3 and (counts[row, lost] == moved[row, lost] + 1).all()
        cost = np.where(counts[row] > 1, weight[row] / np.maximum(counts[row] - 1, 1), np.inf)
        cost[receivers[row]] = np.inf
        assert cost[lost].max() <= np.sort(cost)[2] + 1e-12                # the 3 cheapest donors
    assert np.array_equal(counts, proportional_shares(weight, 45))          # input untouched


def test_move_replicas_without_donors_moves_only_what_it_can():
    weight = np.array([[5.0, 1.0, 1.0], [5.0, 1.0, 1.0]])
    counts = np.array([[1, 1, 2], [1, 1, 1]])
    moved = move_replicas(weight, counts, np.array([[0, 1], [0, 1]]))
    assert moved.tolist() == [[2, 1, 1], [1, 1, 1]]
    assert move_replicas(weight, counts, np.zeros((2, 0), dtype=np.int64)).tolist() == counts.tolist()


def test_hot_pack_experts_names_the_heaviest_replica_of_the_heaviest_packs():
    rng = np.random.default_rng(2)
    batch, m, c, experts = 6, 8, 3, 10
    table = np.stack([rng.permutation(m * c) for _ in range(batch)])
    load = rng.random((batch, m))
    src = rng.integers(0, experts, (batch, m * c)) + np.arange(batch)[:, None] * experts
    got = lean.hot_pack_experts(table, load, src, experts, 3)
    for b in range(batch):
        want = {src[b, table[b].reshape(m, c)[p].min()] % experts for p in np.argsort(-load[b])[:3]}
        assert set(got[b].tolist()) == want


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_repack_is_valid_and_packs_the_window_better(windows, shape):  # noqa: F811
    _, slots, groups, nodes, gpus, hierarchical = shape
    plain = [lean.rebalance_lean(windows[i], slots, groups, nodes, gpus) for i in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(plain[0], lean.rebalance_lean(windows[0], slots, groups, nodes, gpus,
                                                                              repack=0, repack_rounds=3)))
    for kw in ({"repack": 6}, {"repack": 3, "repack_rounds": 2, "repack_gain": 0.0}):
        plans = [lean.rebalance_lean(windows[i], slots, groups, nodes, gpus, **kw) for i in range(3)]
        for i, plan in enumerate(plans):
            check_valid(plan, windows[i], slots, groups, nodes, gpus, hierarchical)
        same = np.mean([gpu_balance(windows[i], plans[i], gpus) for i in range(3)])
        before = np.mean([gpu_balance(windows[i], plain[i], gpus) for i in range(3)])
        assert same > before


@pytest.mark.parametrize("experts, slots, groups, nodes, gpus", ODD_SHAPES)
def test_repack_valid_on_odd_shapes(experts, slots, groups, nodes, gpus):
    weight = odd_shape_loads(experts, slots)
    for kw in ({"repack": 2}, {"repack": 50, "repack_rounds": 3, "repack_gain": 0.0}):
        check_valid(lean.rebalance_lean(weight, slots, groups, nodes, gpus, **kw), weight, slots, groups, nodes, gpus,
                    groups % nodes == 0)
