"""Attack: return tensors that are views: transposed/strided/expanded storage, a view of the input,
and overlapping memory between the three outputs.

Expect: honest
The worker copies every output into a fresh contiguous buffer and the host
validates the bytes; a plan is a plan however it is laid out in memory.
"""
import torch

from heubase.eplb.reference import rebalance_experts as reference


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    phy2log, log2phy, logcnt = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    phy2log = phy2log.t().contiguous().t()  # column-major view
    big = torch.full((logcnt.shape[0], logcnt.shape[1] * 2), -7, dtype=torch.int64)
    big[:, ::2] = logcnt
    logcnt = big[:, ::2]  # strided view of a larger buffer
    return phy2log, log2phy, logcnt
