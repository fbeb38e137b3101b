"""Drift-hedging plan: plan on a transformed load, then pack replicas knowing which expert they copy.

The plan is scored on the next window, not on the one observed, so func_1 first
turns the observed load into a planning load (for example shrinking each layer
towards its mean by SMOOTHING and lifting cold experts to FLOOR times the layer
mean) that is less tied to this window's noise. The stages are then written out
explicitly: expert groups go to nodes by LPT over planning group loads, each
node's slots are shared by min-max greedy replication, and func_2 packs every
node's replicas onto its GPUs while also seeing each replica's expert, so it can
keep replicas of one expert on different GPUs (if that expert heats up, the
extra load is split over several GPUs). Shapes where groups do not split over
nodes are planned flat (one group, one node).
"""
import time

import torch

from heubase.eplb.hierarchical import check_cluster, finish_plan, groups_to_nodes, is_hierarchical
from heubase.eplb.plan import assemble_slots, checked_packing
from heubase.eplb.replicate import expand_replicas, replica_loads, replicate_greedy

#Hyperparameter#
MAX_TIME = 0.05
SMOOTHING = 0.1
FLOOR = 0.05
PACK_SHARE = 0.8
#Hyperparameter#


def func_1(weight: torch.Tensor, smoothing: float, floor: float) -> torch.Tensor:
    # Purpose: turn the observed loads weight [L, E] (float32, >= 0) into planning loads [L, E] (finite, >= 0) that hedge against drift to the next
    # window, e.g. blend each layer with its mean by `smoothing` and raise cold experts to `floor` x the layer mean; the plan is built on the
    # returned loads but scored on the next window's real loads.
    pass


def func_2(item_load: torch.Tensor, item_expert: torch.Tensor, num_packs: int, deadline: float) -> torch.Tensor:
    # Purpose: pack each row of item_load [B, n] (float64 replica loads; item_expert [B, n] int64 is the expert each replica copies) into num_packs
    # GPUs of exactly n // num_packs items, minimising the heaviest GPU and, among near-equal choices, not putting two replicas of one expert
    # on the same GPU; stop improving once time.perf_counter() >= deadline; return pack_of_item [B, n] int64 in [0, num_packs).
    pass


def rebalance_experts(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                      num_gpus: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    start = time.perf_counter()
    weight = weight.float().cpu()
    layers, experts = weight.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    if not is_hierarchical(num_groups, num_nodes):
        num_groups = num_nodes = 1
    deadline = start + MAX_TIME * PACK_SHARE

    plan_load = func_1(weight.clone(), SMOOTHING, FLOOR)
    if not isinstance(plan_load, torch.Tensor) or plan_load.shape != weight.shape:
        raise ValueError(f"func_1 must return planning loads of shape {tuple(weight.shape)}")
    plan_load = plan_load.double()
    if not bool(torch.isfinite(plan_load).all()) or bool((plan_load < 0).any()):
        raise ValueError("func_1 must return finite, non-negative planning loads")

    group_size = experts // num_groups
    node_of_group = groups_to_nodes(plan_load, num_groups, num_nodes)
    groups_by_node = assemble_slots(torch.arange(num_groups).expand(layers, num_groups), node_of_group)
    node_experts = (groups_by_node.unsqueeze(-1) * group_size + torch.arange(group_size)).reshape(
        layers * num_nodes, experts // num_nodes)
    node_load = plan_load.gather(1, node_experts.view(layers, experts)).view(layers * num_nodes, -1)

    counts = replicate_greedy(node_load, num_replicas // num_nodes)
    local_expert = expand_replicas(counts)
    item_load = replica_loads(node_load, counts, local_expert)
    gpus_per_node = num_gpus // num_nodes
    gpu_of_item = func_2(item_load, local_expert.clone(), gpus_per_node, deadline)
    gpu_of_item = checked_packing(gpu_of_item, item_load, gpus_per_node, "func_2")

    local_slots = assemble_slots(local_expert, gpu_of_item)
    phy2log = node_experts.gather(1, local_slots).view(layers, num_replicas)
    return finish_plan(phy2log, experts)
