"""Attack: allocate and touch far more memory than the limit.

Expect: memory
RLIMIT_AS makes an allocation fail once the address space is used up (pages
need not be touched: the limit is on reserved memory); the worker reports a MemoryError.
"""
import torch


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    hoard = []
    while True:
        hoard.append(torch.empty(1 << 27, dtype=torch.float64))  # 1 GiB each
