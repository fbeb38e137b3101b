"""Attack: look for the next window inside the worker: walk the caller's frames and every object
the garbage collector knows, for load arrays of the input's shape that are not the input.

Expect: honest
Only the current window is ever sent to the worker; the next window and the
scorer stay in the host process.
"""
import gc
import sys

import numpy as np
import torch

from heubase.eplb.reference import rebalance_experts as reference


SEEN = set()


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    mine = weight.numpy()
    SEEN.add(mine.tobytes())
    others = []
    for obj in gc.get_objects():  # another load window: same shape and same tokens per layer, never handed to us
        if isinstance(obj, (np.ndarray, torch.Tensor)) and tuple(obj.shape) == tuple(weight.shape):
            array = obj.numpy() if isinstance(obj, torch.Tensor) else obj
            if (array.dtype == mine.dtype and array.tobytes() not in SEEN
                    and np.array_equal(array.sum(1), mine.sum(1))):
                others.append(array)
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, dict) and ("next" in value or "upcoming" in value):
                others.append(value)
        frame = frame.f_back
    if others:
        raise RuntimeError(f"ESCAPED: found {len(others)} other load arrays in the worker")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
