"""Evaluation: running untrusted candidate code in an isolated process and getting arrays back.

* :mod:`beam.evaluate.protocol` — framing of requests/replies (no pickle from the child).
* :mod:`beam.evaluate.isolation` — OS-level limits applied to the child before it starts.
* :mod:`beam.evaluate.sandbox` — :class:`Sandbox`, the host side: start, call, pause, kill.
* :mod:`beam.evaluate.worker` — the child side: loads the candidate and answers calls.
"""
from beam.evaluate.sandbox import CallResult, Sandbox, SandboxError, SandboxLimits

__all__ = ["CallResult", "Sandbox", "SandboxError", "SandboxLimits"]
