"""Attack: memoise plans across calls (keyed by the input's bytes), hoping the timed calls repeat
inputs that were seen in untimed warm-up calls.

Expect: honest
Warm-up calls use unrelated random loads and every timed call gets a fresh
window, so the cache never hits; the speedup stays that of the reference.
"""
from heubase.eplb.reference import rebalance_experts as reference

CACHE = {}
hits = [0]


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    key = (weight.numpy().tobytes(), num_replicas, num_groups, num_nodes, num_gpus)
    if key in CACHE:
        hits[0] += 1
        return CACHE[key]
    CACHE[key] = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return CACHE[key]
