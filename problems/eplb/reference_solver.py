"""Reference solver: the vectorised equivalent of DeepSeek's published EPLB policy.

The evaluator times every candidate against this module, call for call, on the
same windows, in a worker process of its own.
"""
from heubase.eplb.reference import rebalance_experts

__all__ = ["rebalance_experts"]
