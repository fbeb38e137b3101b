"""Attack: smuggle a pickle to the host: return an object array whose element runs code when
unpickled, and leave torch.save / pickle files in the sandbox directory.

Expect: protocol|runtime
The reply format is a JSON header plus raw buffers with a dtype allow-list;
the host never unpickles anything a candidate produced (the harness checks the
marker file the payload would create does not exist).
"""
import os
import pickle

import numpy as np
import torch


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/beam-redteam-pickle-ran",))


blob = pickle.dumps(Payload())
with open("result.pkl", "wb") as handle:
    handle.write(blob)
try:
    torch.save({"plan": Payload()}, "plan.pt")
except Exception:
    pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    payload = np.empty(3, dtype=object)
    payload[:] = [Payload(), blob, Payload()]
    return payload, payload, payload
