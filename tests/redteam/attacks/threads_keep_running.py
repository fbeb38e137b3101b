"""Attack: start CPU-burning threads at import that keep running between calls, to slow the
reference's worker (timed right after us) on a shared machine.

Expect: honest|too_slow|timeout
Between calls the host freezes the candidate's process group while it times
the reference, so the threads steal nothing; the harness checks the speedup
stays that of the reference. During its own calls the threads compete with the
candidate itself, so on a small, loaded machine it may be rejected as too slow
or even run past the per-call timeout: either way it is contained and scores
nothing it did not earn.
"""
import threading

from heubase.eplb.reference import rebalance_experts as reference


def burn():
    x = 0
    while True:
        x += 1


for _ in range(4):
    threading.Thread(target=burn, daemon=True).start()


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
