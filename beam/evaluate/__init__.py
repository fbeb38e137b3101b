"""Evaluation: running untrusted candidate code in an isolated process and getting arrays back.

* :mod:`beam.evaluate.protocol` — framing of requests/replies (no pickle from the child).
* :mod:`beam.evaluate.isolation` — OS-level limits applied to the child before it starts.
* :mod:`beam.evaluate.sandbox` — :class:`Sandbox`, the host side: start, call, pause, kill.
* :mod:`beam.evaluate.worker` — the child side: loads the candidate and answers calls.
* :mod:`beam.evaluate.callback` — host callbacks: functions a candidate may ask the host to run mid-call.
* :mod:`beam.evaluate.warm` / :mod:`beam.evaluate.zygote` — the warm parent that forks workers.
* :mod:`beam.evaluate.datasets` — one sandbox, several datasets: the loop dataset-based evaluators share.
* :mod:`beam.evaluate.service` — the engine's store-backed, budgeted door to evaluation.
"""
from beam.evaluate.callback import CallbackRefused, HostCallback, HostRefused
from beam.evaluate.sandbox import (CallResult, Sandbox, SandboxError, SandboxLimits, device_name,
                                   resolve_device)

__all__ = ["CallResult", "CallbackRefused", "HostCallback", "HostRefused", "Sandbox", "SandboxError",
           "SandboxLimits", "device_name", "resolve_device"]
