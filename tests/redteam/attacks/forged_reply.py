"""Attack: write a forged reply straight to the result channel before the real one (trying to
answer a call with data of its choosing, or to desynchronise the host).

Expect: violation
Replies carry the call's nonce; an extra or out-of-turn message is a violation.
"""
import json
import os
import struct
import sys

from heubase.eplb.reference import rebalance_experts as reference

OUT_FD = int(sys.argv[4])  # worker argv: file, candidate, entry, in fd, out fd[, reply region fd]


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    plan = reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
    for nonce in range(1, 50):
        head = json.dumps({"ok": True, "nonce": nonce, "arrays": []}).encode()
        os.write(OUT_FD, struct.pack(">I", len(head)) + head)
    return plan
