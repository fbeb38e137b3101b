"""Attack: send signals to the host (the evaluator) and to its process group.

Expect: honest
SIGUSR1 stands in for SIGKILL/SIGSTOP so that a failure shows up as a counted
signal in the harness instead of a dead test run. An unprivileged uid cannot
signal the host; the worker's own session keeps group signals inside.
"""
import os
import signal

from heubase.eplb.reference import rebalance_experts as reference

delivered = []
parent = os.getppid()
for target in (parent, -os.getpgid(parent) if parent > 1 else 0):
    if target:
        try:
            os.kill(target, signal.SIGUSR1)
            delivered.append(target)
        except OSError:
            pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if delivered:
        raise RuntimeError(f"ESCAPED: signalled {delivered}")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
