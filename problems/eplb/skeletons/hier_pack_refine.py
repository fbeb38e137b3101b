"""Hierarchical plan with a pluggable GPU packer followed by a time-boxed refiner.

Expert groups are assigned to nodes by LPT over group loads, each node's slots
are shared among its experts by min-max greedy replication, func_1 then packs
each node's replicas onto the node's GPUs and func_2 improves that packing by
exchanging replicas between GPUs of the same node, for at most REFINE_ROUNDS
rounds and never past the refinement deadline. Every packing is checked for
equal GPU slot counts, and a row keeps the refined packing only when its busiest
GPU is no heavier than before. Shapes where groups do not split over nodes are
planned flat (one group, one node), as the DeepSeek policy does.
"""
import time

import torch

from heubase.eplb.hierarchical import finish_plan, is_hierarchical, place_hierarchical
from heubase.eplb.plan import checked_packing, pack_loads
from heubase.eplb.replicate import replicate_greedy

#Hyperparameter#
MAX_TIME = 0.05
REFINE_ROUNDS = 64  # int
REFINE_SHARE = 0.7
#Hyperparameter#


def func_1(item_load: torch.Tensor, num_packs: int) -> torch.Tensor:
    # Purpose: pack each row of item_load [B, n] (float64 replica loads; a row is one node of one layer) into num_packs GPUs
    # holding exactly n // num_packs items each, keeping the heaviest GPU as light as possible;
    # return pack_of_item [B, n] int64 with values in [0, num_packs).
    pass


def func_2(item_load: torch.Tensor, pack_of_item: torch.Tensor, num_packs: int, rounds: int, deadline: float) -> torch.Tensor:
    # Purpose: improve a valid packing pack_of_item [B, n] int64 of item_load [B, n] by exchanging items between packs (item counts per pack
    # must not change) so each row's heaviest pack gets lighter; do at most `rounds` rounds and return as soon as
    # time.perf_counter() >= deadline; return the new pack_of_item [B, n] int64.
    pass


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    start = time.perf_counter()
    weight = weight.float().cpu()
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    deadline = start + MAX_TIME * REFINE_SHARE

    def pack(item_load, num_packs):
        return checked_packing(func_1(item_load, num_packs), item_load, num_packs, "func_1")

    def refine(item_load, pack_of_item, num_packs):
        refined = func_2(item_load, pack_of_item.clone(), num_packs, REFINE_ROUNDS, deadline)
        refined = checked_packing(refined, item_load, num_packs, "func_2")
        before = pack_loads(item_load, pack_of_item, num_packs).max(dim=1).values
        after = pack_loads(item_load, refined, num_packs).max(dim=1).values
        return torch.where((after <= before).unsqueeze(1), refined, pack_of_item)

    phy2log = place_hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus,
                                 replicate=replicate_greedy, pack=pack, refine=refine)
    return finish_plan(phy2log, weight.shape[1])
