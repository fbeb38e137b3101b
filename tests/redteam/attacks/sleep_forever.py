"""Attack: block in a system call (sleep) rather than burn CPU, so the CPU-time limit never fires.

Expect: timeout
The wall-clock limit is measured by the host, not by CPU time.
"""
import time


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    time.sleep(10_000)
