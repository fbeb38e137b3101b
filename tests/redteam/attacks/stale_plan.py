"""Attack: compute one plan per cluster shape on the first call and return it for ever after
(near-zero work, so a large speedup).

Expect: invalid|honest|fast
Warm-up calls use unrelated random loads, so the stale plan is a real but poor
policy; it is scored honestly on every next window. Its speed is real, so the
harness checks (kind "fast") that its balance and its fitness per shape stay
below the reference's balance, i.e. the speed bonus does not pay for the lost balance.
"""
from heubase.eplb.reference import rebalance_experts as reference

PLANS = {}


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    key = (tuple(weight.shape), num_replicas, num_groups, num_nodes, num_gpus)
    if key not in PLANS:
        PLANS[key] = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return PLANS[key]
