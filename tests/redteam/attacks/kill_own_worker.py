"""Attack: SIGKILL its own worker process (and its process group) mid-call.

Expect: crash
The host reports the worker's death by signal.
"""
import os
import signal


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    os.killpg(os.getpgrp(), signal.SIGKILL)
