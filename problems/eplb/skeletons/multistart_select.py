"""Multi-start plan: several candidate packings per stage, the best one kept row by row.

Both packing stages of the hierarchical plan (expert groups onto nodes, then each
node's replicas onto its GPUs) go through the same selector. The selector starts
from the DeepSeek-style LPT packing, asks func_1 for up to NUM_STARTS (group
stage: NUM_GROUP_STARTS) further candidates within that stage's share of the
time budget, checks each candidate's pack sizes, and keeps, independently for
every row (one layer, or one node of one layer), the candidate whose heaviest
pack is lightest on the observed window. The result is never worse than LPT on
that window. Replication inside nodes is min-max greedy. Shapes where groups do
not split over nodes are planned flat (one group, one node).
"""
import time

import torch

from heubase.eplb.hierarchical import finish_plan, is_hierarchical, place_hierarchical
from heubase.eplb.pack import pack_lpt
from heubase.eplb.plan import checked_packing, pack_loads
from heubase.eplb.replicate import replicate_greedy

#Hyperparameter#
MAX_TIME = 0.05
NUM_STARTS = 8  # int
NUM_GROUP_STARTS = 4  # int
SEARCH_SHARE = 0.8
GROUP_SHARE = 0.2
#Hyperparameter#


def func_1(item_load: torch.Tensor, num_packs: int, num_starts: int, deadline: float) -> list[torch.Tensor]:
    # Purpose: up to num_starts diverse candidate packings of item_load [B, n] (float64, one problem per row) into num_packs packs of exactly
    # n // num_packs items each (vary orderings, perturb loads, mix packers, refine), each a pack_of_item [B, n] int64 in [0, num_packs);
    # stop producing candidates once time.perf_counter() >= deadline and return the list made so far (it may be empty).
    pass


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    start = time.perf_counter()
    weight = weight.float().cpu()
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    search_end = start + MAX_TIME * SEARCH_SHARE

    def selector(num_starts, share):
        def pack(item_load, num_packs):
            best = pack_lpt(item_load, num_packs)
            if num_starts <= 0 or num_packs == 1 or item_load.shape[1] == num_packs:
                return best
            best_max = pack_loads(item_load, best, num_packs).max(dim=1).values
            now = time.perf_counter()
            deadline = now + max(0.0, search_end - now) * share
            candidates = func_1(item_load, num_packs, num_starts, deadline)
            if not isinstance(candidates, (list, tuple)):
                raise ValueError("func_1 must return a list of candidate packings")
            for index, candidate in enumerate(candidates[:num_starts]):
                candidate = checked_packing(candidate, item_load, num_packs, f"func_1 candidate {index}")
                cand_max = pack_loads(item_load, candidate, num_packs).max(dim=1).values
                better = cand_max < best_max
                best = torch.where(better.unsqueeze(1), candidate, best)
                best_max = torch.where(better, cand_max, best_max)
            return best
        return pack

    phy2log = place_hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus,
                                 replicate=replicate_greedy, pack=selector(NUM_STARTS, 1.0),
                                 pack_groups=selector(NUM_GROUP_STARTS, GROUP_SHARE))
    return finish_plan(phy2log, weight.shape[1])
