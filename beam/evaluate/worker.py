"""Sandbox worker: runs inside the isolated child process.

Started as ``python -m beam.evaluate.worker CANDIDATE ENTRY IN_FD OUT_FD``. It
imports the candidate module from the sandbox directory, then answers
``call`` requests: arrays arrive as numpy buffers and are handed to the entry
function as torch tensors (as numpy arrays when ``BEAM_SANDBOX_ARRAYS=numpy``); the outputs (a tensor/array or a tuple of them) go
back as raw buffers. Nothing here is trusted by the host: the host validates
every reply.
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
        return np.asarray(value.contiguous().numpy()).copy()
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value).copy()
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


def main(argv: list[str]) -> int:
    candidate, entry, in_fd, out_fd = argv[0], argv[1], int(argv[2]), int(argv[3])
    from beam.evaluate.protocol import encode, read_message, write_message

    import numpy as np

    as_numpy = os.environ.get("BEAM_SANDBOX_ARRAYS", "torch") == "numpy"
    if as_numpy:
        torch = sys.modules.get("torch")  # imported later by the candidate, if at all
    else:
        import torch

        torch.set_num_threads(int(os.environ.get("BEAM_TORCH_THREADS", "1")))
    try:
        spec = importlib.util.spec_from_file_location("candidate", candidate)
        module = importlib.util.module_from_spec(spec)
        sys.modules["candidate"] = module
        spec.loader.exec_module(module)
        function = getattr(module, entry, None)
        if not callable(function):
            raise AttributeError(f"the module defines no function named {entry!r}")
        ready = {"ok": True, "op": "ready"}
    except BaseException as exc:  # the candidate's import is arbitrary code
        ready = _error("load", exc)
        function = None
    write_message(out_fd, encode(ready))
    while True:
        try:
            header, arrays = read_message(in_fd, MAX_REQUEST_BYTES)
        except EOFError:
            return 0
        if header.get("op") != "call" or function is None:
            return 0
        args = []
        for arg in header["args"]:
            if "array" not in arg:
                args.append(arg["value"])
            else:
                args.append(arrays[arg["array"]] if as_numpy else torch.from_numpy(arrays[arg["array"]]))
        if as_numpy:
            torch = sys.modules.get("torch")  # the candidate may return tensors if it imported torch
        try:
            outputs = _outputs(function(*args), torch, np)
            reply = encode({"ok": True, "nonce": header["nonce"]}, outputs)
        except BaseException as exc:  # report every failure of candidate code, even SystemExit
            reply = encode(dict(_error("runtime", exc), nonce=header["nonce"]))
        write_message(out_fd, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
