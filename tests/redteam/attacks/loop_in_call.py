"""Attack: spin forever inside rebalance_experts.

Expect: timeout
The host's per-call wall-clock limit ends the call and kills the worker.
"""


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    while True:
        pass
