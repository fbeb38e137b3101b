"""Fused fast plan on planning loads, with the packing and swap settings left to calibration.

func_1 turns the observed loads into the loads the plan is made for (the plan is
scored on the next window as well as on this one, so some hedging against drift
can pay, too much costs packing quality). The plan itself is HeuBase's fused
pipeline, computed in numpy (heubase.eplb.lean.rebalance_lean, the same plans
as heubase.eplb.fast.rebalance_fast in about half the time): whole expert groups to nodes,
replication inside each node by func_2 (how many slots each expert gets: the
min-max greedy levels the hottest replicas, which packs the observed window;
other shares leave room for drift), replicas dealt onto the node's GPUs in
cardinality-constrained rounds with SPREAD strided tail rounds, then
REFINE_ROUNDS rounds of max-min swaps between the PAIRS heaviest and lightest
GPUs, where no swap may move a replica next to a near twin (load within a
relative NEAR: replicas of one expert drift together; NEAR below zero lifts
that rule, which packs the observed window tighter and the next one worse);
NEAR applies on hierarchical clusters (groups split over several nodes),
NEAR_FLAT where the whole layer is planned as one group: the two trade
next-window against same-window balance differently.
Where a GPU has at most REPACK_SLOTS slots, the replication is made
packing-aware (REPACK > 0): the experts of the heaviest replicas on the REPACK
heaviest GPUs take a replica from the cheapest donors and the layer is dealt
again, kept where its heaviest GPU drops (with few slots per GPU two mid-sized
replicas often share the heaviest GPU and no swap separates them; the extra
deal roughly doubles the time of a call). With func_1 = shrink_to_mean and
func_2 = replicate_proportional at their library defaults, these settings
plan above DeepSeek's policy on both windows on every problem shape of both
splits, by 0.007 or more (REPACK_SLOTS = 6 left 4 nodes x 8 GPUs level on
the same window of the validation split).
Few sorts, no Python loop over layers. If func_1 alone has used half of
MAX_TIME, the swaps are skipped. func_1's loads are checked (shape, finite,
non-negative) before they are planned on.
"""
import math
import time

import torch

from heubase.eplb.hierarchical import is_hierarchical
from heubase.eplb.lean import rebalance_lean

#Hyperparameter#
MAX_TIME = 0.05
SMOOTHING = 0.05  # range 0 0.3
REFINE_ROUNDS = 2  # int, range 0 8
PAIRS = 2  # int, range 1 16
NEAR = 0.0  # range -0.05 0.1
NEAR_FLAT = 0.03  # range -0.05 0.1
SPREAD = 0  # int, range 0 2
REPACK = 6  # int, range 0 8
REPACK_SLOTS = 10  # int, range 0 12
#Hyperparameter#


def func_1(weight: torch.Tensor, smoothing: float) -> torch.Tensor:
    # Purpose: turn the observed loads weight [L, E] (float64, >= 0) into planning loads [L, E] (finite, >= 0) that hedge a little against drift
    # to the next window, e.g. blend each layer with its mean by `smoothing`; the plan is built on the returned loads and scored on both the
    # observed window and the next one, so keep the order of hot experts.
    pass


def func_2(weight: torch.Tensor, num_slots: int) -> torch.Tensor:
    # Purpose: replica counts for each row of weight [B, n] (float64 planning loads of one node's experts in one layer): return logcnt [B, n]
    # int64, every count >= 1, every row summing to num_slots; the replicas are then packed onto the node's GPUs and the plan is scored on
    # this window and the next, so counts that only level the observed hottest replicas may serve the drifting next window worse.
    pass


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    start = time.perf_counter()
    observed = weight.detach().to("cpu", torch.float64)
    planned = func_1(observed, SMOOTHING)
    if not isinstance(planned, torch.Tensor) or planned.shape != observed.shape:
        raise ValueError(f"func_1 must return planning loads of shape {list(observed.shape)}")
    loads = planned.detach().to("cpu", torch.float64).numpy()
    if loads.size and not (loads.min() >= 0 and loads.max() < math.inf):   # NaN fails both comparisons
        raise ValueError("func_1 returned planning loads that are negative or not finite")
    rounds = max(0, REFINE_ROUNDS) if time.perf_counter() - start < MAX_TIME / 2 else 0
    near = NEAR if num_nodes > 1 and is_hierarchical(num_groups, num_nodes) else NEAR_FLAT
    repack = max(0, REPACK) if num_replicas < (REPACK_SLOTS + 1) * num_gpus else 0   # <= REPACK_SLOTS per GPU
    return rebalance_lean(torch.from_numpy(loads), num_replicas, num_groups, num_nodes, num_gpus, spread=max(0, SPREAD),
                          refine_rounds=rounds, near=near if near >= 0 else None, pairs=max(1, PAIRS),
                          replicate=func_2, repack=repack)
