"""Sandbox worker: runs inside the isolated child process.

Started as ``python -m beam.evaluate.worker CANDIDATE ENTRY IN_FD OUT_FD [REPLY_FD]`` (a fresh
process), or entered through :func:`serve` in a child forked from a warm parent
(``beam.evaluate.zygote``). It imports the candidate module from the sandbox directory, then answers
``call`` requests: arrays arrive as numpy buffers and are handed to the entry
function as torch tensors (as numpy arrays when ``BEAM_SANDBOX_ARRAYS=numpy``); the outputs (a tensor/array or a tuple of them) go
back as raw buffers (written into the shared reply region ``REPLY_FD`` when the host
gave one, :class:`beam.evaluate.protocol.ReplyRegion`). An argument the host sent as
a host callback becomes a :class:`beam.evaluate.callback.HostFunction` the candidate may call during the
call (its requests and the host's answers share the two pipes). Nothing here is
trusted by the host: the host validates every reply and every request.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback

MAX_REQUEST_BYTES = 1 << 30


def _to_numpy(value, torch, np):
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        return np.ascontiguousarray(value.contiguous().numpy())  # encoded at once; no copy needed
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"outputs must be tensors or arrays, got {type(value).__name__}")


def _outputs(result, torch, np):
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [_to_numpy(item, torch, np) for item in items]


def _error(kind: str, exc: BaseException) -> dict:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(tb)
                  if f.filename.endswith("candidate.py")), "")
    return {"ok": False, "kind": kind, "error": f"{text}" + (f" (at {where})" if where else "")}


def _keywords(function) -> list[str]:
    """Names the entry function accepts as keywords (``"**"`` if it takes ``**kwargs``)."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name if p.kind is not p.VAR_KEYWORD else "**" for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.VAR_KEYWORD)]


def main(argv: list[str]) -> int:
    candidate, entry, in_fd, out_fd = argv[0], argv[1], int(argv[2]), int(argv[3])
    reply_fd = int(argv[4]) if len(argv) > 4 else -1
    return serve(candidate, entry, in_fd, out_fd, int(os.environ.get("BEAM_TORCH_THREADS", "1")), reply_fd)


def serve(candidate: str, entry: str, in_fd: int, out_fd: int, threads: int = 1, reply_fd: int = -1) -> int:
    """Import ``candidate`` and answer calls on the two pipe descriptors until the host closes them;
    replies' arrays go into the shared region ``reply_fd`` when there is one (else through ``out_fd``)."""
    from beam.evaluate.callback import HostFunction
    from beam.evaluate.protocol import ReplyRegion, encode, read_message, write_message

    import numpy as np

    region = None
    if reply_fd >= 0:
        region = ReplyRegion.attach(reply_fd)
        region.close_descriptor()

    as_numpy = os.environ.get("BEAM_SANDBOX_ARRAYS", "torch") == "numpy"
    if as_numpy:
        torch = sys.modules.get("torch")  # imported by the candidate, if at all (or already, in a warm fork)
    else:
        import torch

        torch.set_num_threads(threads)
    try:
        spec = importlib.util.spec_from_file_location("candidate", candidate)
        module = importlib.util.module_from_spec(spec)
        sys.modules["candidate"] = module
        spec.loader.exec_module(module)
        function = getattr(module, entry, None)
        if not callable(function):
            raise AttributeError(f"the module defines no function named {entry!r}")
        ready = {"ok": True, "op": "ready", "keywords": _keywords(function)}
    except BaseException as exc:  # the candidate's import is arbitrary code
        ready = _error("load", exc)
        function = None
    write_message(out_fd, encode(ready))
    staged = None
    while True:
        try:
            header, arrays = read_message(in_fd, MAX_REQUEST_BYTES)
        except EOFError:
            return 0
        op = header.get("op")
        if op not in ("stage", "call") or function is None:
            return 0
        nonce = header.get("nonce")
        if as_numpy:
            torch = sys.modules.get("torch")  # the candidate may return tensors if it imported torch
        try:
            if op == "stage":
                staged = _place(header, arrays, None if as_numpy else torch, in_fd, out_fd)
                reply = encode({"ok": True, "nonce": nonce})
            else:
                (args, kwargs), staged = staged or ([], {}), None
                for value in (*args, *kwargs.values()):
                    if isinstance(value, HostFunction):
                        value.nonce = nonce
                outputs = _outputs(function(*args, **kwargs), torch, np)
                reply = encode({"ok": True, "nonce": nonce}, outputs, region)
        except BaseException as exc:  # report every failure of candidate code, even SystemExit
            reply = encode(dict(_error("runtime", exc), nonce=nonce))
        write_message(out_fd, reply)


def _place(header: dict, arrays: list, torch, in_fd: int = -1, out_fd: int = -1) -> tuple[list, dict]:
    """The call's arguments (positional, by name), arrays as tensors on the requested device (before timing).

    With ``torch`` None (the ``arrays="numpy"`` mode) arrays stay numpy arrays, on the CPU.
    A ``{"callback": k}`` argument becomes a host function speaking on ``in_fd``/``out_fd``.
    """
    from beam.evaluate.callback import HostFunction

    device = str(header.get("device") or "cpu")
    wrap = None if torch is None else torch.from_numpy
    args, kwargs = [], {}
    for arg in header["args"]:
        if "callback" in arg:
            value = HostFunction(in_fd, out_fd, int(arg["callback"]), wrap)
        elif "array" in arg:
            value = arrays[arg["array"]]
            if torch is not None:
                value = torch.from_numpy(value)
                value = value if device == "cpu" else value.to(device)
        else:
            value = arg["value"]
        if "name" in arg:
            kwargs[str(arg["name"])] = value
        else:
            args.append(value)
    if torch is not None and device.startswith("cuda"):
        torch.cuda.synchronize(device)
    return args, kwargs

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
