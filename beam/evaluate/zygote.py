"""Warm parent of sandbox workers: forks an isolated worker per candidate.

Started by :class:`beam.evaluate.warm.WarmPool` as
``python -m beam.evaluate.zygote FD [MODULE ...]`` where ``FD`` is its end of
a ``SOCK_SEQPACKET`` socket pair. It imports numpy, torch and the trusted
library MODULEs (``[limits] preload``: e.g. compiled kernels, so that no
worker compiles them again) once, then waits for ``spawn`` requests (a JSON
object plus the two pipe descriptors of the new worker, and its shared reply
region's when there is one). For each it forks; the child applies the same
isolation as a freshly started worker (:func:`beam.evaluate.isolation.apply_in_child`)
and serves the candidate (:func:`beam.evaluate.worker.serve`). So every candidate
still gets a process of its own, only without paying for the interpreter start
and the torch import (about a second) again.

The zygote is a child subreaper: whatever a worker spawns and orphans ends up
here, not at init, and anything here that is not a live worker is killed at
once. It never runs candidate code itself, and it reports each worker's exit
status to the host (the host is not the worker's parent, so it cannot wait).
"""
from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys
import time

from beam.evaluate import isolation

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MAX_REQUEST = 1 << 20
SWEEP_INTERVAL_S = 0.2


def _children() -> list[int]:
    """PIDs whose parent is this process (orphans reparented here included)."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(x) for x in handle.read().split()]
    except OSError:
        return []


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass  # the host is gone; the main loop notices on its next read


def _child(request: dict, fds: list[int], sock: socket.socket, wakeup: tuple[int, int]) -> None:
    """In the forked worker: isolate, then serve the candidate; never returns."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock.close()
        for fd in wakeup:
            os.close(fd)
        from beam.evaluate import worker

        plan = isolation.IsolationPlan.from_json(request["plan"])
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            handle = os.open(plan.workdir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(handle, fd)
            os.close(handle)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ.update(request.get("env", {}))
        os.chdir(plan.scratch or plan.workdir)
        isolation.apply_in_child(plan)
        isolation.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # no worker outlives its parent
        isolation.prctl(PR_SET_CHILD_SUBREAPER, 1)
        # the candidate sees what a freshly started worker would show it
        sys.argv = [worker.__file__, request["candidate"], request["entry"], *map(str, fds)]
        code = worker.serve(request["candidate"], request["entry"], fds[0], fds[1], int(request.get("threads", 1)),
                            fds[2] if len(fds) > 2 else -1)
    except BaseException as exc:  # report what broke before the candidate ran, then leave
        try:
            os.write(2, f"sandbox worker could not start: {exc!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _reap(sock: socket.socket, workers: set[int]) -> None:
    """Collect exited children; tell the host about workers; kill orphans that are not workers."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in workers:
            workers.discard(pid)
            _send(sock, {"op": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})
    for pid in _children():
        if pid not in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _spawn(sock: socket.socket, request: dict, fds: list[int], workers: set[int],
           wakeup: tuple[int, int]) -> None:
    try:
        pid = os.fork()
    except OSError as exc:
        _send(sock, {"op": "error", "id": request.get("id"), "error": f"fork failed: {exc}"})
        return
    if pid == 0:
        _child(request, fds, sock, wakeup)
    workers.add(pid)
    for fd in fds:
        os.close(fd)
    _send(sock, {"op": "spawned", "id": request.get("id"), "pid": pid})


def _preload(modules: list[str]) -> dict[str, str]:
    """Import trusted library modules (the problem's ``[limits] preload``) once, so that every forked worker
    inherits them, compiled kernels included; returns the errors by module (a worker then imports it itself)."""
    errors: dict[str, str] = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - reported to the host, never fatal here
            errors[name] = f"{type(exc).__name__}: {exc}"[:500]
    return errors


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    # No parent-death signal here: Linux sends it when the *thread* that started us ends, and the host
    # starts us from whichever thread evaluates first. When the host dies its end of the socket closes,
    # and the loop below ends (killing the workers) at once.
    isolation.prctl(PR_SET_CHILD_SUBREAPER, 1)
    import numpy  # noqa: F401  (the point of this process: imports paid once)
    import torch

    torch.set_num_threads(1)
    import beam.evaluate.worker  # noqa: F401

    preload_errors = _preload(argv[1:])

    wakeup = os.pipe()
    for fd in wakeup:
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wakeup[1])
    signal.signal(signal.SIGCHLD, lambda *_: None)
    workers: set[int] = set()
    _send(sock, {"op": "ready", "pid": os.getpid(), "preload_errors": preload_errors})
    next_sweep = time.monotonic() + SWEEP_INTERVAL_S
    while True:
        ready = select.select([sock, wakeup[0]], [], [], SWEEP_INTERVAL_S)[0]
        if wakeup[0] in ready:
            try:
                while os.read(wakeup[0], 4096):
                    pass
            except BlockingIOError:
                pass
        if sock in ready:
            try:
                data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 3)   # in, out[, reply region]
            except OSError:
                data, fds = b"", []
            if not data:
                break  # the host closed its end: leave, taking the workers with us
            try:
                request = json.loads(data)
            except ValueError:
                request = {}
            if request.get("op") == "spawn" and len(fds) in (2, 3):
                _spawn(sock, request, fds, workers, wakeup)
            else:
                for fd in fds:
                    os.close(fd)
        if wakeup[0] in ready or time.monotonic() >= next_sweep:
            _reap(sock, workers)
            next_sweep = time.monotonic() + SWEEP_INTERVAL_S
    for pid in list(workers) + _children():
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
