"""Attack: look for API keys in its own environment and in every process's /proc/<pid>/environ.

Expect: honest
The worker's environment is scrubbed; other processes' environments need ptrace
access, which a different uid (and the host's non-dumpable flag) denies.
The harness runs a process holding REDTEAM_SECRET_VALUE in its environment.
"""
import os

from heubase.eplb.reference import rebalance_experts as reference

NEEDLE = b"REDTEAM_SECRET_VALUE"
found = [k for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k or "REDTEAM" in v]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/environ", "rb") as env:
                if NEEDLE in env.read():
                    found.append(f"/proc/{pid}/environ")
        except OSError:
            pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if found:
        raise RuntimeError(f"ESCAPED: secrets in {found[:5]}")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
