"""Attack: raise SystemExit / KeyboardInterrupt, hoping the worker's loop lets them through.

Expect: runtime
The worker catches BaseException from candidate code and reports it as an error.
"""


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    raise KeyboardInterrupt("stop the evaluation")
