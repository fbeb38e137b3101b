"""Attack: lift the recursion limit and recurse until the C stack overflows.

Expect: crash|runtime|memory|timeout
Depending on the interpreter a stack overflow kills the worker (SIGSEGV, a
crash), Python stops it (RecursionError), the frames exhaust the address-space
limit (memory) or the call runs out of time; each is an error on this
candidate and the run goes on.
"""
import sys


def dive(n):
    return dive(n + 1) + 1


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    sys.setrecursionlimit(10**9)
    return dive(0)
