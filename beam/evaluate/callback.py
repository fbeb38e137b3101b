"""Host callbacks: a sandboxed call may ask the host to compute something for it, mid-call.

Some problems cannot hand the candidate its whole input: a black-box optimiser
must query an objective whose definition (optimum, shifts, rotations) stays on
the host. The evaluator passes a :class:`HostCallback` as an argument of
:meth:`beam.evaluate.Sandbox.call`; inside the sandbox the candidate receives a
:class:`HostFunction` in its place. Calling it sends the arrays to the host
(one ``request`` message, buffers not copied), the host runs the callback's
``function`` on them and answers (``answer`` with arrays, or ``refused`` with
a message, which raises :class:`HostRefused` in the candidate).

>>> def objective(x):                                    # doctest: +SKIP
...     return (x ** 2).sum(axis=1)
>>> box.call(HostCallback(objective), 10)               # doctest: +SKIP

The host validates every request itself: ``function`` receives the request's
arrays as they came (any allowed dtype and shape) and must raise
:class:`CallbackRefused` for input it does not accept; other exceptions are
host bugs and propagate. The time the host spends answering is not counted
as the call's time (:attr:`CallResult.seconds`) and extends the call's
deadline by as much. A call that gets more than ``max_refusals`` refusals, or
that sends a request naming no callback of this call, is a ``violation``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from beam.evaluate.protocol import encode, read_message, write_message

MAX_ANSWER_BYTES = 1 << 30
MAX_ERROR_CHARS = 2000


class CallbackRefused(Exception):
    """Raised by a host callback's ``function`` to refuse a request; the message goes to the candidate."""


class HostRefused(RuntimeError):
    """Raised inside the sandbox when the host refused a request (e.g. the evaluation budget is spent)."""


@dataclass
class HostCallback:
    """A host-side function a sandboxed call may invoke (see the module docstring).

    ``function(*arrays)`` returns an array or a tuple/list of arrays.
    """

    function: Callable[..., Any]
    max_refusals: int = 100

    def answer(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run ``function`` on a request's arrays; the outputs as a list of arrays."""
        result = self.function(*arrays)
        items = result if isinstance(result, (tuple, list)) else (result,)
        outputs = []
        for item in items:
            if not isinstance(item, np.ndarray):
                raise TypeError(f"a host callback must return arrays, got {type(item).__name__}")
            outputs.append(item)
        return outputs


class HostFunction:
    """What the candidate receives in place of a :class:`HostCallback` (runs inside the sandbox).

    ``f(*arrays)`` sends the arrays (numpy, or torch tensors on the CPU) to the
    host and returns its answer: one array, or a tuple when the host answers
    with several. Raises :class:`HostRefused` when the host refuses.
    """

    def __init__(self, in_fd: int, out_fd: int, index: int, wrap: Callable[[np.ndarray], Any] | None = None):
        self._in_fd, self._out_fd, self._index = in_fd, out_fd, index
        self._wrap = wrap
        self.nonce: int | None = None  # the call this function belongs to (set by the worker)

    def __call__(self, *arrays: Any) -> Any:
        parts = [np.ascontiguousarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a) for a in arrays]
        write_message(self._out_fd, encode({"op": "request", "nonce": self.nonce, "callback": self._index}, parts))
        header, outputs = read_message(self._in_fd, MAX_ANSWER_BYTES)
        if header.get("op") != "answer":
            raise HostRefused(str(header.get("error", "the host refused the request"))[:MAX_ERROR_CHARS])
        if self._wrap is not None:
            outputs = [self._wrap(o) for o in outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __repr__(self) -> str:
        return f"<host function {self._index}>"
