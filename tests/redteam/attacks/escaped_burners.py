"""Attack: fork CPU burners that leave the process group (setsid) so that freezing the group
misses them, and make them burn only while the candidate is NOT computing — i.e. while
the reference is being timed — to fake a speedup.

Expect: honest
The host freezes every process of the sandbox (its own uid), not just its
process group, while it times the reference; the harness checks the speedup
stays that of the reference and no burner survives the evaluation.
"""
import mmap
import os
import time

from heubase.eplb.reference import rebalance_experts as reference

flag = mmap.mmap(-1, 1)  # shared with the burners: 1 while we compute


def burner():
    os.setsid()
    if os.fork():
        os._exit(0)
    x = 0
    while True:
        if flag[0]:
            time.sleep(0.0002)
        else:
            x += 1


for _ in range(3):
    if os.fork() == 0:
        burner()


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    flag[0] = 1
    try:
        return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    finally:
        flag[0] = 0
