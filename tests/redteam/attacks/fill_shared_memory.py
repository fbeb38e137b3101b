"""Attack: fill /dev/shm (host RAM, outside the sandbox directory, survives the worker) and
leave a file there for a later candidate to find.

Expect: honest
As root /dev/shm inside the sandbox is a private, small tmpfs; nothing written
there reaches the host's /dev/shm. The harness checks the host's /dev/shm is unchanged.
"""
from heubase.eplb.reference import rebalance_experts as reference

written = 0
try:
    for i in range(96):  # files of 8 MiB each: under the per-file size limit
        with open(f"/dev/shm/beam-redteam-fill-{i}", "wb") as handle:
            handle.write(b"\0" * (8 << 20))
        written += 8 << 20
except OSError:
    pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if written > (512 << 20):
        raise RuntimeError(f"ESCAPED: wrote {written >> 20} MiB to /dev/shm")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
