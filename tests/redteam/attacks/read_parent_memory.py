"""Attack: read the host's memory, environment and open files through /proc/<parent>/
(the next window lives in the host's memory).

Expect: honest
The host marks itself non-dumpable, so /proc/<host>/mem, environ and fd are
closed to other processes; a different uid closes them twice.
"""
import os

from heubase.eplb.reference import rebalance_experts as reference

opened = []
parent = os.getppid()
for name in ("mem", "environ", "fd/0", "maps"):
    try:
        with open(f"/proc/{parent}/{name}", "rb") as handle:
            handle.read(64)
        opened.append(name)
    except OSError:
        pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if opened:
        raise RuntimeError(f"ESCAPED: /proc/{parent}/ {opened}")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
