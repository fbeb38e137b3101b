"""Migration counting and the migration-aware refiner (heubase/eplb/migrate.py), on hand-worked plans."""
from __future__ import annotations

import numpy as np
import torch

from heubase.eplb.fast import rebalance_fast
from heubase.eplb.hierarchical import is_hierarchical
from heubase.eplb.migrate import (align_slots, keep_in_place, match_gpus, moved_replicas,
                                  rebalance_migration_aware, repair_in_place)


def test_slot_order_inside_a_gpu_is_free():
    # 2 GPUs x 3 slots; GPU 0 holds {0, 1, 2} in both plans, only reordered
    old = np.array([[0, 1, 2, 3, 4, 5]])
    new = np.array([[2, 0, 1, 3, 4, 5]])
    assert moved_replicas(old, new, 2).tolist() == [0]


def test_moves_count_experts_new_to_each_gpu():
    # GPU0 old {0,1,2} new {0,0,3}: keeps 0 once, receives 0 and 3 -> 2 moves
    # GPU1 old {3,4,5} new {1,2,4}: keeps 4, receives 1 and 2 -> 2 moves (5 is dropped, no copy)
    old = np.array([[0, 1, 2, 3, 4, 5]])
    new = np.array([[0, 3, 0, 4, 2, 1]])
    assert moved_replicas(old, new, 2).tolist() == [4]


def test_swapping_two_gpus_moves_everything_unless_matched():
    old = np.array([[0, 1, 2, 3], [0, 1, 2, 3]])
    new = np.array([[2, 3, 0, 1], [0, 1, 2, 3]])
    assert moved_replicas(old, new, 2).tolist() == [4, 0]
    matched = match_gpus(new, old, 2)
    assert moved_replicas(old, matched, 2).tolist() == [0, 0]
    assert sorted(matched[0].tolist()) == [0, 1, 2, 3]


def test_match_gpus_relabels_nodes_then_gpus():
    # 2 nodes x 2 GPUs x 1 slot; the new plan has the nodes swapped and GPUs swapped inside them
    old = np.array([[0, 1, 2, 3]])
    new = np.array([[3, 2, 1, 0]])
    assert match_gpus(new, old, 4, 2).tolist() == [[0, 1, 2, 3]]


def test_align_slots_puts_kept_experts_back():
    old = np.array([[7, 1, 2, 3, 4, 5]])
    new = np.array([[2, 1, 9, 5, 3, 3]])
    # GPU0 keeps 1 (slot 1) and 2 (slot 2); 9 takes slot 0. GPU1 keeps 3 (slot 3) and 5 (slot 5); the second 3 takes slot 4
    assert align_slots(new, old, 2).tolist() == [[9, 1, 2, 3, 3, 5]]


def test_keep_in_place_needs_enough_gain():
    weight = torch.tensor([[4.0, 1.0, 1.0, 2.0]])
    old = np.array([[0, 1, 2, 3]])        # GPU loads 5, 3 -> balance 4/5 = 0.8
    new = np.array([[0, 2, 1, 3]])        # GPU loads 5, 3 too: no gain, moves 2 -> keep old
    worse = np.array([[0, 3, 1, 2]])      # GPU loads 6, 2 -> balance 0.667 -> keep old
    assert keep_in_place([new], old, weight, 2).tolist() == old.tolist()
    assert keep_in_place([worse], old, weight, 2).tolist() == old.tolist()
    weight2 = torch.tensor([[4.0, 4.0, 1.0, 1.0]])   # old: 8 vs 2 (0.625); swap 1<->2: 5 vs 5 (1.0), moves 2 of 4
    swap = np.array([[0, 2, 1, 3]])
    assert keep_in_place([swap], old, weight2, 2, move_cost=0.5).tolist() == swap.tolist()    # 1.0 - 0.25 > 0.625
    assert keep_in_place([swap], old, weight2, 2, move_cost=2.0).tolist() == old.tolist()     # 1.0 - 1.0 < 0.625


def test_repair_moves_only_changed_counts():
    # one node, 2 GPUs x 3 slots, experts 0..3; old gives expert 0 three replicas, new loads want expert 3 to have them
    old = np.array([[0, 0, 1, 0, 2, 3]])
    weight = torch.tensor([[1.0, 1.0, 1.0, 30.0]])
    repaired = repair_in_place(old, weight, 2)
    assert sorted(repaired[0].tolist()) == [0, 1, 2, 3, 3, 3]
    assert moved_replicas(old, repaired, 2).tolist() == [2]    # two replicas of 0 give way to two of 3


def test_solver_without_previous_plan_is_the_base_and_with_it_stays_valid():
    g = torch.Generator().manual_seed(0)
    w0, w1 = (torch.rand(6, 64, generator=g) ** 4 * 1000 for _ in range(2))
    base = rebalance_fast(w0, 80, 8, 2, 8)
    plain = rebalance_migration_aware(w0, 80, 8, 2, 8)
    assert torch.equal(plain[0], base[0])
    plan = rebalance_migration_aware(w1, 80, 8, 2, 8, base[0])
    phy2log, log2phy, logcnt = plan
    assert phy2log.shape == (6, 80) and int(logcnt.min()) >= 1 and (logcnt.sum(1) == 80).all()
    assert torch.equal(torch.bincount(phy2log[0], minlength=64), logcnt[0])
    # group locality: every group of 8 experts on one node of 40 slots
    node = torch.arange(80) // 40
    for layer in range(6):
        for group in range(8):
            assert len(set(node[(phy2log[layer] // 8) == group].tolist())) == 1
    fresh = rebalance_fast(w1, 80, 8, 2, 8)[0]
    assert moved_replicas(base[0], phy2log, 8).sum() <= moved_replicas(base[0], fresh, 8).sum()
    assert is_hierarchical(8, 2)
