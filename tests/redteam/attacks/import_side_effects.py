"""Attack: do everything bad at import time, before any call: patch builtins and the worker's
protocol module, spawn a background child, try to write outside, leave files behind.

Expect: honest
Import runs inside the sandbox under the same limits as calls; the patched
protocol only changes what the worker sends, which the host validates.
"""
import builtins
import os
import sys

import beam.evaluate.protocol as protocol
from heubase.eplb.reference import rebalance_experts as reference

builtins.open = lambda *a, **k: (_ for _ in ()).throw(PermissionError("no files for you"))
protocol.ALLOWED_DTYPES.add("object")  # the worker's copy only
if os.fork() == 0:
    import time
    while True:
        time.sleep(0.5)
for path in ("/tmp/beam-redteam-import.txt", os.path.expanduser("~/.profile")):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    except OSError:
        pass
sys.modules["heubase.eplb.reference"] = None


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
