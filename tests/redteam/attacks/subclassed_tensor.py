"""Attack: return a torch.Tensor subclass whose methods lie: numpy() and contiguous() report a
different (perfectly uniform-looking) plan, __len__ and shape checks are overridden.

Expect: invalid|runtime|honest
The subclass only runs in the worker; the host sees raw bytes and validates
them as a plan and scores them on the next window. Whatever the worker sends
is scored for what it is.
"""
import torch

from heubase.eplb.reference import rebalance_experts as reference


class Liar(torch.Tensor):
    def numpy(self, *args, **kwargs):
        return torch.zeros(3, dtype=torch.int64).numpy()

    def contiguous(self, *args, **kwargs):
        return self

    def __len__(self):
        return 10**6

    @property
    def shape(self):
        return torch.Size([1])


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    phy2log, log2phy, logcnt = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return phy2log.as_subclass(Liar), log2phy.as_subclass(Liar), logcnt.as_subclass(Liar)
