"""Hierarchical placement: expert groups → nodes, replication inside each node, replicas → GPUs.

Keeping every expert group on one node bounds cross-node traffic under
group-limited routing (DeepSeek-V3 routes each token to at most a few groups).
The three stages are pluggable, so a solver can swap in any replicator,
packer or refiner from this package.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from heubase.eplb.pack import pack_lpt
from heubase.eplb.plan import assemble_slots, build_log2phy
from heubase.eplb.replicate import expand_replicas, replicate_greedy

Replicator = Callable[[torch.Tensor, int], torch.Tensor]
Packer = Callable[[torch.Tensor, int], torch.Tensor]
Refiner = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def check_cluster(num_experts: int, num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int) -> None:
    """Raise ``ValueError`` unless the cluster shape splits evenly as the serving systems require."""
    problems = []
    if num_groups <= 0 or num_experts % num_groups:
        problems.append(f"{num_experts} experts do not split into {num_groups} groups")
    if num_nodes <= 0 or num_gpus % num_nodes:
        problems.append(f"{num_gpus} GPUs do not split over {num_nodes} nodes")
    if num_gpus <= 0 or num_replicas % num_gpus:
        problems.append(f"{num_replicas} slots do not split over {num_gpus} GPUs")
    if num_replicas < num_experts:
        problems.append(f"{num_replicas} slots cannot hold {num_experts} experts")
    if problems:
        raise ValueError("; ".join(problems))


def is_hierarchical(num_groups: int, num_nodes: int) -> bool:
    """DeepSeek's rule: group-to-node placement applies when groups divide evenly over nodes."""
    return num_groups % num_nodes == 0


def groups_to_nodes(weight: torch.Tensor, num_groups: int, num_nodes: int,
                    pack: Packer = pack_lpt) -> torch.Tensor:
    """``[L, num_groups]`` node of each expert group, balancing the groups' total load."""
    layers, experts = weight.shape
    group_load = weight.double().view(layers, num_groups, experts // num_groups).sum(-1)
    return pack(group_load, num_nodes)


def place_hierarchical(weight: torch.Tensor, num_replicas: int, num_groups: int, num_nodes: int,
                       num_gpus: int, replicate: Replicator = replicate_greedy, pack: Packer = pack_lpt,
                       refine: Optional[Refiner] = None, pack_groups: Packer = pack_lpt) -> torch.Tensor:
    """Hierarchical plan: returns ``phy2log [L, num_replicas]``.

    1. ``pack_groups`` assigns whole groups to nodes (equal number of groups per node);
    2. ``replicate`` shares each node's slots among the node's experts;
    3. ``pack`` (then ``refine``, if given) puts each node's replicas onto its GPUs.

    Use ``num_groups = num_nodes = 1`` for a global (flat) placement.
    """
    layers, experts = weight.shape
    check_cluster(experts, num_replicas, num_groups, num_nodes, num_gpus)
    if num_groups % num_nodes:
        raise ValueError(f"{num_groups} groups do not split over {num_nodes} nodes")
    w = weight.double()
    group_size = experts // num_groups
    experts_per_node = experts // num_nodes
    slots_per_node = num_replicas // num_nodes
    gpus_per_node = num_gpus // num_nodes

    node_of_group = groups_to_nodes(w, num_groups, num_nodes, pack_groups)
    group_ids = torch.arange(num_groups).expand(layers, num_groups)
    groups_by_node = assemble_slots(group_ids, node_of_group)
    node_experts = (groups_by_node.unsqueeze(-1) * group_size + torch.arange(group_size)).reshape(
        layers * num_nodes, experts_per_node)

    node_weight = w.gather(1, node_experts.view(layers, experts)).view(layers * num_nodes, experts_per_node)
    counts = replicate(node_weight, slots_per_node)
    local_expert = expand_replicas(counts)
    item_load = (node_weight / counts.clamp(min=1).double()).gather(1, local_expert)
    gpu_of_item = pack(item_load, gpus_per_node)
    if refine is not None:
        gpu_of_item = refine(item_load, gpu_of_item, gpus_per_node)
    local_slots = assemble_slots(local_expert, gpu_of_item)
    return node_experts.gather(1, local_slots).view(layers, num_replicas)


def finish_plan(phy2log: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Complete a ``phy2log`` into the DeepSeek triple ``(phy2log, log2phy, logcnt)``."""
    log2phy, logcnt = build_log2phy(phy2log, num_experts)
    return phy2log.long(), log2phy, logcnt
