"""Attack: exhaust memory while the module is imported.

Expect: load|memory
The import fails with a MemoryError under RLIMIT_AS; the candidate never gets called.
"""
hoard = [bytearray(1 << 30) for _ in range(64)]


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    raise AssertionError("never reached")
