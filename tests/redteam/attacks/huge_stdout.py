"""Attack: flood stdout/stderr to fill the host's disk.

Expect: runtime|violation
The worker's stdout/stderr are files under RLIMIT_FSIZE: the write past it
fails (Python ignores SIGXFSZ, so the candidate sees EFBIG and the call fails;
a process that does not ignore it is killed, a violation).
"""
import sys


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    line = "x" * (1 << 20) + "\n"
    while True:
        sys.stdout.write(line)
        sys.stdout.flush()
