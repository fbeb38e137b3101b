"""Attack: leave with os._exit in the middle of a call (no reply, no cleanup).

Expect: crash
The host sees the result channel close and reports the exit code.
"""
import os


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    os._exit(0)
