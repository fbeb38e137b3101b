"""heubase.eplb.lean: the fused pipeline in numpy — same plans as the torch pipeline, valid on every shape."""
from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from eplb_cases import ODD_SHAPES, SHAPES, check_valid, gpu_balance, odd_shape_loads, windows  # noqa: F401  (fixture)

from heubase.eplb import fast, lean
from heubase.eplb.replicate import proportional_shares, replicate_greedy, replicate_proportional


# ---------------------------------------------------------------- pieces

@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 5), n=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
def test_order_desc_is_a_stable_descending_argsort(rows, n, seed):
    rng = np.random.default_rng(seed)
    values = rng.permutation(rows * n).reshape(rows, n).astype(np.float64) * 3.5   # distinct, far apart
    values[0, : n // 2] = values[0, 0]                                               # ties: lower index first
    assert np.array_equal(lean.order_desc(values), np.argsort(-values, axis=1, kind="stable"))


def test_order_desc_zero_rows_and_long_rows():
    assert lean.order_desc(np.zeros((2, 40))).tolist() == [list(range(40))] * 2
    long = np.random.default_rng(0).random((1, 70000))                               # keys too coarse: exact
    assert np.array_equal(lean.order_desc(long), np.argsort(-long, axis=1, kind="stable"))


def test_deal_rounds_is_the_torch_dealing():
    rng = np.random.default_rng(3)
    for batch, rounds, m in [(7, 5, 3), (4, 9, 8), (3, 5, 64), (2, 12, 24)]:
        dealt = -np.sort(-rng.random((batch, rounds, m)), axis=2)
        packs, load = lean.deal_rounds(dealt)
        want_packs, want_load = fast._deal(torch.from_numpy(dealt))
        assert np.array_equal(packs, want_packs.numpy()) and np.allclose(load, want_load.numpy())


def test_swap_rounds_matches_torch_and_keeps_the_items():
    rng = np.random.default_rng(1)
    weights = rng.random((50, 6, 5)) ** 3
    ids = np.tile(np.arange(30), (50, 1)).reshape(50, 6, 5)
    for near, pairs in [(None, 1), (0.02, 2), (0.0, 3)]:
        w, t = weights.copy(), ids.copy()
        lean.swap_rounds_np(w, t, rounds=4, near=near, pairs=pairs)
        tw, tt = torch.from_numpy(weights.copy()), torch.from_numpy(ids.copy())
        fast.swap_rounds(tw, tt, rounds=4, near=near, pairs=pairs)
        assert np.array_equal(t, tt.numpy())
        assert (w.sum(2).max(1) <= weights.sum(2).max(1) + 1e-12).all()
        assert np.array_equal(np.sort(t.reshape(50, -1), 1), ids.reshape(50, -1))     # a permutation
        assert np.allclose(w.reshape(50, -1), np.take_along_axis(weights.reshape(50, -1), t.reshape(50, -1), 1))
    assert (w.sum(2).max(1) < weights.sum(2).max(1) - 1e-9).any()


def test_swap_rounds_never_stacks_near_twins_and_needs_contiguous_tables():
    w = np.array([[[6.0, 5.0, 1.0], [1.0, 2.0, 5.0]]])
    ids = np.array([[[0, 1, 2], [3, 4, 5]]])
    free = ids.copy()
    lean.swap_rounds_np(w.copy(), free, 1, near=None)
    assert not np.array_equal(free, ids)
    lean.swap_rounds_np(w, ids, 1, near=0.02)
    assert ids.tolist() == [[[0, 1, 2], [3, 4, 5]]]
    with pytest.raises(ValueError, match="contiguous"):
        lean.swap_rounds_np(w.transpose(0, 2, 1), ids.transpose(0, 2, 1), 1)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(st.one_of(st.floats(0, 1e6), st.integers(0, 5).map(float)), min_size=1, max_size=40),
                     min_size=1, max_size=4).filter(lambda r: len({len(x) for x in r}) == 1),
       spare=st.integers(0, 90), power=st.sampled_from([1.0, 0.5, 1.3, 2.0]))
def test_proportional_shares_are_largest_remainder_apportionment(rows, spare, power):
    weight = np.array(rows)
    n = weight.shape[1]
    counts = proportional_shares(weight, n + spare, power)
    assert counts.dtype == np.int64 and (counts >= 1).all() and (counts.sum(1) == n + spare).all()
    share = (weight / np.maximum(weight.max(1, keepdims=True), 1e-300)) ** power
    total = share.sum(1, keepdims=True)
    quota = np.where(total > 0, share / np.where(total > 0, total, 1), 1.0 / n) * spare
    bonus = counts - 1 - np.floor(quota)
    assert np.isin(bonus, (0, 1)).all()
    remainder = quota - np.floor(quota)
    for row in range(weight.shape[0]):          # every remainder rewarded is at least every one passed over
        got, not_got = remainder[row][bonus[row] == 1], remainder[row][bonus[row] == 0]
        if got.size and not_got.size:
            assert got.min() >= not_got.max() - 1e-6


def test_replicate_proportional_keeps_its_torch_interface():
    counts = replicate_proportional(torch.tensor([[5.0, 1.0, 2.0, 0.0]], dtype=torch.float32), 8)
    assert counts.dtype == torch.int64 and counts.tolist() == [[4, 1, 2, 1]]
    assert replicate_proportional(torch.tensor([[float("nan"), -3.0, float("inf")]]), 6).tolist() == [[1, 1, 4]]


# ---------------------------------------------------------------- the pipeline

@pytest.mark.parametrize("experts, slots, groups, nodes, gpus", [
    (64, 64, 4, 2, 8), (64, 64, 4, 1, 16), (64, 64, 8, 4, 16), (96, 96, 8, 3, 12), (256, 256, 8, 4, 32),
    (256, 256, 8, 8, 16)])
def test_same_plan_as_the_torch_pipeline_without_ties(experts, slots, groups, nodes, gpus):
    # one replica per expert and continuous loads: no ties anywhere, so both pipelines must agree exactly
    rng = np.random.default_rng(experts + gpus)
    weight = torch.from_numpy(rng.gamma(0.7, 1.0, (6, experts)) * 1000)
    for kw in ({}, {"near": 0.0, "pairs": 2}, {"near": None, "pairs": 3, "spread": 1},
               {"switches": (1, 3), "refine_rounds": 1}, {"refine_rounds": 0}):
        ours = lean.rebalance_lean(weight, slots, groups, nodes, gpus, **kw)
        theirs = fast.rebalance_fast(weight, slots, groups, nodes, gpus, replicate=replicate_proportional, **kw)
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs)), kw


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_valid_deterministic_and_as_balanced_as_the_torch_pipeline(windows, shape):  # noqa: F811
    _, slots, groups, nodes, gpus, hierarchical = shape
    plan = lean.rebalance_lean(windows[0], slots, groups, nodes, gpus)
    check_valid(plan, windows[0], slots, groups, nodes, gpus, hierarchical)
    assert all(t.dtype == torch.int64 for t in plan)
    assert all(torch.equal(a, b) for a, b in zip(plan, lean.rebalance_lean(windows[0], slots, groups, nodes, gpus)))
    for kw in ({"refine_rounds": 3, "pairs": 2, "near": 0.0}, {"spread": 1, "power": 1.3}, {"switches": (1, 2)},
               {"replicate": replicate_greedy, "refine_rounds": 0}):
        check_valid(lean.rebalance_lean(windows[0], slots, groups, nodes, gpus, **kw), windows[0], slots, groups, nodes,
                    gpus, hierarchical)
    # ties (replicas of one expert) may be dealt differently, so the plans differ a little, the balance hardly
    for kw in ({"power": 1.289, "near": 0.0, "pairs": 2}, {"near": None}):
        power = kw.get("power", 1.0)
        torch_kw = {k: v for k, v in kw.items() if k != "power"}
        replicate = functools.partial(replicate_proportional, power=power)
        ours = np.mean([gpu_balance(windows[i], lean.rebalance_lean(windows[i], slots, groups, nodes, gpus, **kw), gpus)
                        for i in range(3)])
        theirs = np.mean([gpu_balance(windows[i], fast.rebalance_fast(windows[i], slots, groups, nodes, gpus,
                                                                   replicate=replicate, **torch_kw), gpus)
                          for i in range(3)])
        assert abs(ours - theirs) < 1e-3


@pytest.mark.parametrize("experts, slots, groups, nodes, gpus", ODD_SHAPES)
def test_valid_on_odd_shapes_and_bad_loads(experts, slots, groups, nodes, gpus):
    weight = odd_shape_loads(experts, slots)
    for dtype in (torch.int64, torch.float32, torch.float16):
        check_valid(lean.rebalance_lean(weight.to(dtype), slots, groups, nodes, gpus), weight, slots, groups, nodes,
                    gpus, groups % nodes == 0)
    odd = weight.clone()
    odd[2, 0], odd[3, 1], odd[4, 2] = float("nan"), -5.0, float("inf")
    check_valid(lean.rebalance_lean(odd, slots, groups, nodes, gpus), weight, slots, groups, nodes, gpus,
                groups % nodes == 0)


def test_bad_shapes_and_a_broken_replicator_are_named(windows):  # noqa: F811
    with pytest.raises(ValueError, match="layers, experts"):
        lean.rebalance_lean(windows[0][0], 288, 8, 4, 32)
    with pytest.raises(ValueError, match="do not split"):
        lean.rebalance_lean(windows[0], 288, 8, 5, 32)

    def my_replicator(w, s):
        return torch.ones_like(w, dtype=torch.int64)
    with pytest.raises(ValueError, match=re.escape("my_replicator must hand out exactly")):
        lean.rebalance_lean(windows[0], 288, 8, 4, 32, replicate=my_replicator)
