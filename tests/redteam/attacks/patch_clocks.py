"""Attack: monkeypatch every clock in its own process so the call looks instantaneous.

Expect: honest
The host times each call around the request/reply, in its own process; the
candidate's clocks are irrelevant. Score: the reference's balance at the reference's speed.
"""
import time

from heubase.eplb.reference import rebalance_experts as reference

for name in ("perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns", "process_time"):
    setattr(time, name, (lambda: 0) if name.endswith("_ns") else (lambda: 0.0))


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
