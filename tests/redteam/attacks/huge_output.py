"""Attack: answer with an enormous tensor to exhaust the host's memory.

Expect: protocol
The host reads the reply header first and refuses outputs above max_output_mb
before allocating anything.
"""
import torch


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    big = torch.empty(270 << 20, dtype=torch.uint8)  # 270 MiB, above the 256 MiB reply limit
    return big, torch.zeros(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
