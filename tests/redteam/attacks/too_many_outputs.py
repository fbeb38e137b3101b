"""Attack: answer with a wrong number of outputs and nested/odd Python objects.

Expect: invalid|runtime
The worker accepts only tensors/arrays; the host expects exactly three of them.
"""
from heubase.eplb.reference import rebalance_experts as reference


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    plan = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return (*plan, plan[0], plan[0])
