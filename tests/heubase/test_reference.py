"""heubase.eplb.reference: the vectorised DeepSeek-equivalent policy against the per-layer one."""
from __future__ import annotations

import pytest
import torch

from heubase.eplb.hierarchical import is_hierarchical
from heubase.eplb.plan import build_log2phy, gpu_loads, replica_counts
from heubase.eplb.reference import rebalance_experts, rebalance_experts_per_layer

# (experts, slots, groups, nodes, gpus)
DEFAULT = (256, 288, 8, 4, 32)          # hierarchical: 8 groups over 4 nodes
FLAT = (256, 320, 8, 5, 40)             # 8 groups do not split over 5 nodes -> global policy
SHAPES = [DEFAULT, FLAT, (16, 24, 4, 2, 4), (12, 18, 3, 2, 6)]


def weights(layers: int, experts: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    skew = torch.rand(layers, experts, generator=gen) ** 3            # a few hot experts per layer
    return (1000 * skew + torch.rand(layers, experts, generator=gen)).float()


def balance(weight: torch.Tensor, phy2log: torch.Tensor, num_gpus: int) -> float:
    loads = gpu_loads(weight, phy2log, num_gpus)
    return float(loads.mean(1).sum() / loads.amax(1).sum())


@pytest.mark.parametrize("shape", SHAPES)
def test_vectorised_matches_per_layer(shape):
    experts, slots, groups, nodes, gpus = shape
    w = weights(5, experts, seed=sum(shape))
    fast = rebalance_experts(w, slots, groups, nodes, gpus)
    slow = rebalance_experts_per_layer(w, slots, groups, nodes, gpus)
    assert balance(w, fast[0], gpus) == pytest.approx(balance(w, slow[0], gpus), rel=1e-12)
    # with continuous weights there are no ties, so the plans are the same slot for slot
    for a, b in zip(fast, slow):
        assert torch.equal(a, b)


@pytest.mark.parametrize("shape", SHAPES)
def test_outputs_well_formed(shape):
    experts, slots, groups, nodes, gpus = shape
    layers = 3
    w = weights(layers, experts, seed=7)
    phy2log, log2phy, logcnt = rebalance_experts(w, slots, groups, nodes, gpus)
    assert phy2log.shape == (layers, slots) and phy2log.dtype == torch.int64
    assert logcnt.shape == (layers, experts) and logcnt.dtype == torch.int64
    assert log2phy.dtype == torch.int64
    assert log2phy.shape == (layers, experts, int(logcnt.max()))
    assert ((phy2log >= 0) & (phy2log < experts)).all()
    assert (logcnt >= 1).all() and (logcnt.sum(1) == slots).all()
    assert torch.equal(logcnt, replica_counts(phy2log, experts))
    again_log2phy, again_cnt = build_log2phy(phy2log, experts)
    assert torch.equal(again_log2phy, log2phy) and torch.equal(again_cnt, logcnt)
    for layer in range(layers):
        listed = log2phy[layer][log2phy[layer] >= 0]
        assert sorted(listed.tolist()) == list(range(slots))                  # each slot once
        for e in range(experts):
            own = log2phy[layer, e, : int(logcnt[layer, e])]
            assert (phy2log[layer, own] == e).all()
            assert (log2phy[layer, e, int(logcnt[layer, e]):] == -1).all()


@pytest.mark.parametrize("shape", [s for s in SHAPES if is_hierarchical(s[2], s[3])])
def test_groups_stay_on_one_node(shape):
    experts, slots, groups, nodes, gpus = shape
    layers = 4
    phy2log, _, _ = rebalance_experts(weights(layers, experts, seed=11), slots, groups, nodes, gpus)
    node_of_slot = torch.arange(slots) // (slots // nodes)
    group_of_slot = phy2log // (experts // groups)
    for layer in range(layers):
        nodes_of_group = {}
        for g, n in zip(group_of_slot[layer].tolist(), node_of_slot.tolist()):
            nodes_of_group.setdefault(g, set()).add(n)
        assert len(nodes_of_group) == groups
        assert all(len(v) == 1 for v in nodes_of_group.values())
        per_node = [sum(1 for v in nodes_of_group.values() if n in v) for n in range(nodes)]
        assert per_node == [groups // nodes] * nodes


def test_flat_shape_is_not_hierarchical():
    assert is_hierarchical(*DEFAULT[2:4])
    assert not is_hierarchical(*FLAT[2:4])


def test_bad_cluster_shapes():
    w = weights(1, 16, seed=0)
    with pytest.raises(ValueError):
        rebalance_experts_per_layer(w, 12, 4, 2, 4)     # fewer slots than experts
    with pytest.raises(ValueError):
        rebalance_experts(w, 24, 4, 2, 5)               # 24 slots over 5 GPUs
