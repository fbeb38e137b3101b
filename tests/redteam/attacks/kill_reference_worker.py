"""Attack: find the reference solver's worker (it is timed against us) and stop or kill it.

Expect: honest
Every sandbox runs under a uid of its own, so the candidate cannot signal the
reference's worker. (Had it succeeded, the harness would see the reference
worker die and the attack raise.)
"""
import os
import signal

from heubase.eplb.reference import rebalance_experts as reference

hit = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"beam.evaluate.worker" in cmdline and os.getpgid(int(pid)) != os.getpgrp():
            try:
                os.kill(int(pid), signal.SIGCONT)  # harmless probe: permission is what matters
                hit.append(int(pid))
            except OSError:
                pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if hit:
        raise RuntimeError(f"ESCAPED: could signal other workers {hit}")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
