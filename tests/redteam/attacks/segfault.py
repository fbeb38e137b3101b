"""Attack: crash the interpreter through ctypes (read address 0).

Expect: crash
The worker dies with SIGSEGV; the host reports it.
"""
import ctypes


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return ctypes.string_at(0)
