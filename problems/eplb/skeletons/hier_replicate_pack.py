"""Hierarchical plan whose replication and GPU packing are both pluggable.

Expert groups are assigned to nodes by LPT over group loads. Inside every node,
func_1 decides how many of the node's slots each expert receives, knowing how
many GPUs the replicas will be spread over, so that it can size replicas for
packing (splitting an expert whose per-replica load is large next to the mean
GPU load) rather than only minimising the largest replica. func_2 then places
the node's replicas onto its GPUs within the packing deadline. The skeleton
checks both outputs (replica totals, equal GPU slot counts) and raises a
descriptive error when a realisation breaks them. Shapes where groups do not
split over nodes are planned flat (one group, one node).
"""
import time

import torch

from heubase.eplb.hierarchical import finish_plan, is_hierarchical, place_hierarchical
from heubase.eplb.plan import checked_packing

#Hyperparameter#
MAX_TIME = 0.05
HOT_FRACTION = 0.5
PACK_SHARE = 0.8
#Hyperparameter#


def func_1(weight: torch.Tensor, num_slots: int, num_bins: int, hot_fraction: float) -> torch.Tensor:
    # Purpose: replica counts for each row of weight [B, n] (float64 loads of one node's experts in one layer): return logcnt [B, n] int64,
    # every count >= 1, every row summing to num_slots; the replicas will be packed on num_bins GPUs of num_slots // num_bins slots, so favour counts that pack
    # evenly, e.g. keep splitting experts whose load per replica exceeds hot_fraction x (row total / num_bins).
    pass


def func_2(item_load: torch.Tensor, num_packs: int, deadline: float) -> torch.Tensor:
    # Purpose: pack each row of item_load [B, n] (float64 replica loads) into num_packs GPUs of exactly n // num_packs items, minimising the
    # heaviest GPU of the row; stop improving once time.perf_counter() >= deadline; return pack_of_item [B, n] int64 in [0, num_packs).
    pass


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    start = time.perf_counter()
    weight = weight.float().cpu()
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    gpus_per_node = num_gpus // num_nodes
    deadline = start + MAX_TIME * PACK_SHARE

    def replicate(node_load, num_slots):
        counts = func_1(node_load, num_slots, gpus_per_node, HOT_FRACTION)
        if not isinstance(counts, torch.Tensor) or counts.shape != node_load.shape:
            raise ValueError(f"func_1 must return replica counts of shape {tuple(node_load.shape)}")
        counts = counts.long()
        if bool((counts < 1).any()):
            raise ValueError("func_1 must give every expert at least one replica")
        if bool((counts.sum(dim=1) != num_slots).any()):
            raise ValueError(f"func_1 must hand out exactly {num_slots} replicas in every row")
        return counts

    def pack(item_load, num_packs):
        pack_of_item = func_2(item_load, num_packs, deadline)
        return checked_packing(pack_of_item, item_load, num_packs, "func_2")

    phy2log = place_hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus,
                                 replicate=replicate, pack=pack)
    return finish_plan(phy2log, weight.shape[1])
