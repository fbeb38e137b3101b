"""Attack: return int32 / float plans (smaller and faster to build than int64).

Expect: invalid
The contract says int64; the host rejects any other dtype.
"""
from heubase.eplb.reference import rebalance_experts as reference


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    phy2log, log2phy, logcnt = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return phy2log.int(), log2phy.int(), logcnt.float()
