"""Attack: return float plans full of NaN and infinity (NaN compares false, so a naive range
check `x < 0 or x >= E` would pass).

Expect: invalid
Only int64 plans are accepted; NaN cannot occur in an int64 array.
"""
import torch

from heubase.eplb.reference import rebalance_experts as reference


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    phy2log, log2phy, logcnt = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return (torch.full(phy2log.shape, float("nan")), torch.full(log2phy.shape, float("inf")),
            torch.full(logcnt.shape, float("nan")))
