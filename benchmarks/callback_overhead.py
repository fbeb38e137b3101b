"""Round-trip cost of a host callback: a sandboxed candidate asks the host for f(points) many times.

Prints, per batch size, the candidate-side seconds per request (what the
candidate's time budget pays: encoding, two pipe messages, decoding) and the
host's seconds per request (not counted against the candidate).

    python benchmarks/callback_overhead.py [--requests 2000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from beam.evaluate import HostCallback, Sandbox, SandboxLimits  # noqa: E402

CANDIDATE = """
import numpy as np
def run(f, requests, batch, dim):
    x = np.zeros((batch, dim))
    for _ in range(requests):
        f(x)
    return np.zeros(1)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidate.py"
        path.write_text(CANDIDATE)
        with Sandbox(path, "run", SandboxLimits(call_timeout_s=120), arrays="numpy") as box:
            print(f"{'batch':>6} {'candidate us/request':>21} {'host us/request':>16} {'us/point':>9}")
            for batch in (1, 10, 100, 1000):
                result = box.call(HostCallback(lambda x: (x ** 2).sum(axis=1)), args.requests, batch, args.dim)
                per = result.seconds / result.requests * 1e6
                host = result.host_seconds / result.requests * 1e6
                print(f"{batch:6d} {per:21.1f} {host:16.1f} {(per + host) / batch:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
