"""Attack: reach the network: a TCP listener on the host's loopback, a public address, and a
Unix socket owned by root (think /var/run/docker.sock).

Expect: honest
As root the worker has its own network namespace (no interfaces but a down
loopback) and an unprivileged uid (the root-only Unix socket refuses it).
The harness runs both listeners and writes where they are to /tmp/beam-redteam-target.
"""
import socket

from heubase.eplb.reference import rebalance_experts as reference

reached = []
try:
    port = int(open("/tmp/beam-redteam-target/tcp_port").read())
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    reached.append(f"127.0.0.1:{port}")
except OSError:
    pass
try:
    socket.create_connection(("1.1.1.1", 443), timeout=1).close()
    reached.append("1.1.1.1:443")
except OSError:
    pass
try:
    unix = socket.socket(socket.AF_UNIX)
    unix.settimeout(1)
    unix.connect("/tmp/beam-redteam-target/host.sock")
    reached.append("host.sock")
except OSError:
    pass


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    if reached:
        raise RuntimeError(f"ESCAPED: connected to {reached}")
    return reference(weight, num_replicas, num_groups, num_nodes, num_gpus)
