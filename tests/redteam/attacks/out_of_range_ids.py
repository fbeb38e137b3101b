"""Attack: put every slot on expert 0's hottest replica count and lie in logcnt / log2phy
(negative ids, ids >= E, counts that do not sum to R).

Expect: invalid
The host checks ranges, counts and the mutual consistency of the three outputs.
"""
from heubase.eplb.reference import rebalance_experts as reference


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    phy2log, log2phy, logcnt = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    phy2log = phy2log.clone()
    phy2log[:, 0] = -1
    phy2log[:, 1] = weight.shape[1] + 5
    return phy2log, log2phy, logcnt
