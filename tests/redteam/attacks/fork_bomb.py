"""Attack: fork bomb; every child forks again and spins, the caller never answers.

Expect: timeout
The call times out; the process-group/uid kill removes every fork (the harness
checks that no process of the sandbox survives); RLIMIT_NPROC caps the count.
"""
import os


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    for _ in range(2000):
        try:
            os.fork()
        except OSError:
            pass
    while True:
        pass
