"""Attack: fill the disk through the only writable place, the sandbox directory (many files,
each just under the file-size limit), at import time where the start-up limit is long.

Expect: honest
As root the sandbox directory is a small tmpfs (disk_mb); writes stop with
ENOSPC. The attack reports an escape if it could write more than 512 MiB.
"""
import os

from heubase.eplb.reference import rebalance_experts as reference

chunk = b"\0" * (8 << 20)
written = 0
try:
    for i in range(128):
        with open(f"fill_{i}.bin", "wb") as handle:
            handle.write(chunk)
        written += len(chunk)
except OSError:
    pass
finally:
    for name in os.listdir("."):
        if name.startswith("fill_"):
            os.remove(name)


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if written > (512 << 20):
        raise RuntimeError(f"ESCAPED: wrote {written >> 20} MiB to the host's disk")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
