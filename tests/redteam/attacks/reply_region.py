"""Attack: go after the shared-memory region the worker writes replies into: shrink it under the host's
mapping (reading past the end of a shrunk file would kill the host with SIGBUS) and keep scribbling over
it from a thread while the host copies the reply out.

Expect: honest|invalid
The region is sealed at its size, so shrinking fails; the host copies a reply before it validates it,
so scribbling can only spoil the candidate's own plan.
"""
import gc
import os
import threading

import numpy as np

from heubase.eplb.reference import rebalance_experts as reference


def _shrink_attempts() -> None:
    with open("/proc/self/maps") as maps:
        spans = [line.split()[0] for line in maps if "beam-reply" in line]
    for span in spans:
        try:
            fd = os.open(f"/proc/self/map_files/{span}", os.O_RDWR)
        except OSError:
            continue
        try:
            os.ftruncate(fd, 0)
            raise RuntimeError("ESCAPED: shrank the reply region")
        except OSError:
            pass
        finally:
            os.close(fd)


def _scribble() -> None:
    regions = [o for o in gc.get_objects() if type(o).__name__ == "ReplyRegion"]
    views = [np.frombuffer(r._map, dtype=np.uint8) for r in regions if not r._map.closed]
    rng = np.random.default_rng(0)
    while views:
        for view in views:
            view[: 1 << 16] = rng.integers(0, 256, 1 << 16, dtype=np.uint8)


_shrink_attempts()
threading.Thread(target=_scribble, daemon=True).start()


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    _shrink_attempts()
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
