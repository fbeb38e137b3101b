"""Attack: monkeypatch torch (sort, topk, argsort) and the heubase reference module so that
"the same" computation is cheaper, and try to patch them on disk for the reference's worker.

Expect: honest
In-process patches only affect the candidate's own process; the reference runs
in a separate worker from read-only files; the plan is validated and scored
on the next window whatever produced it.
"""
import torch

import heubase.eplb.reference as ref_module
from heubase.eplb.reference import rebalance_experts as reference

_real_sort = torch.sort
torch.sort = lambda *a, **k: _real_sort(*a, **k)
torch.Tensor.argsort = lambda self, *a, **k: torch.argsort(self, *a, **k)
ref_module.rebalance_experts = lambda *a: (_ for _ in ()).throw(RuntimeError("patched"))
try:
    with open(ref_module.__file__, "a") as handle:
        handle.write("\nimport time\ntime.sleep(0.01)\n")
except OSError:
    pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
