"""Attack: read the user's private files (an SSH key, an API-key file) from the home folder.

Expect: honest
As root the worker runs under its own unprivileged uid, so files readable only by
their owner (mode 0600) cannot be opened. Without root this is NOT enforced (SECURITY.md).
"""
from pathlib import Path

from heubase.eplb.reference import rebalance_experts as reference

SECRETS = [Path("/tmp/beam-redteam-target/home/.ssh/id_rsa"), Path("/tmp/beam-redteam-target/home/.config/api_key"),
           Path("/root/.ssh/id_rsa"), Path("/etc/shadow")]
stolen = []
for secret in SECRETS:
    try:
        stolen.append((str(secret), secret.read_bytes()[:40]))
    except OSError:
        pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if stolen:
        raise RuntimeError(f"ESCAPED: read {stolen}")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
