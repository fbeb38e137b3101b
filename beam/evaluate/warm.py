"""Host side of the warm worker pool: a parent process that forks sandbox workers.

Starting a Python worker and importing torch costs about a second of CPU; a
candidate's own evaluation often costs less. :class:`WarmPool` keeps one warm
parent (:mod:`beam.evaluate.zygote`) per host process and asks it to fork a
fresh, isolated worker per sandbox, so the per-candidate overhead is a fork
(milliseconds). Every candidate still runs in a process of its own, under the
same limits as a freshly started worker, and is killed with its process group
at the end; what escapes the group is killed by the parent, which is a child
subreaper. A parent that dies is replaced on the next request.
"""
from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from beam.evaluate.isolation import IsolationPlan

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


class PoolError(RuntimeError):
    """The warm parent could not start or fork a worker."""


class ForkedProcess:
    """A worker forked by the warm parent: the part of ``subprocess.Popen`` the sandbox uses."""

    def __init__(self, pool: "WarmPool", pid: int, generation: int):
        self.pool = pool
        self.pid = pid
        self.generation = generation

    @property
    def returncode(self) -> int | None:
        return self.pool.exit_code(self.pid, self.generation)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self.pool.wait_exit(self.pid, self.generation, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
        return code


class WarmPool:
    """One warm parent process; thread-safe; started lazily."""

    def __init__(self, torch_threads: int = 1, preload: tuple[str, ...] = ()):
        self.torch_threads = torch_threads
        self.preload = tuple(preload)
        self.preload_errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._exits = threading.Condition()
        self._codes: dict[int, int] = {}
        self._replies: dict[int, dict] = {}
        self._next_id = 0
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self.generation = 0
        self.spawned = 0

    # ------------------------------------------------------------------ parent
    def _start(self) -> None:
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "PYTHONPATH": str(PROJECT_ROOT), "HOME": "/nonexistent",
               "OMP_NUM_THREADS": str(self.torch_threads), "MKL_NUM_THREADS": str(self.torch_threads)}
        self._proc = subprocess.Popen(
            [sys.executable, "-s", "-B", "-m", "beam.evaluate.zygote", str(child.fileno()), *self.preload],
            cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(child.fileno(),), start_new_session=True)
        child.close()
        host.settimeout(START_TIMEOUT_S)
        try:
            hello = json.loads(host.recv(1 << 16) or b"{}")
        except (OSError, ValueError):
            hello = {}
        if hello.get("op") != "ready":
            self._proc.kill()
            raise PoolError("the warm sandbox parent did not start (python -m beam.evaluate.zygote)")
        host.settimeout(None)
        self.preload_errors = dict(hello.get("preload_errors") or {})
        self._sock = host
        with self._exits:
            self.generation += 1
            self._codes, self._replies = {}, {}
        self._reader = threading.Thread(target=self._read, args=(host, self.generation), daemon=True, name="beam-warm-pool")
        self._reader.start()

    def _read(self, sock: socket.socket, generation: int) -> None:
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            with self._exits:
                if generation != self.generation:
                    break
                if message.get("op") == "exit":
                    self._codes[int(message["pid"])] = int(message["code"])
                else:
                    self._replies[int(message.get("id", -1))] = message
                self._exits.notify_all()
        with self._exits:  # the parent died: its workers died with it
            if generation == self.generation:
                self._replies[-1] = {"op": "error", "error": "the warm sandbox parent exited"}
            self._exits.notify_all()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Stop the parent; it kills every worker it still has."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                self._proc = None

    # ------------------------------------------------------------------ workers
    def spawn(self, plan: IsolationPlan, candidate: Path, entry: str, in_fd: int, out_fd: int,
              env: dict[str, str], threads: int = 1, reply_fd: int = -1) -> ForkedProcess:
        """Fork an isolated worker serving ``entry`` of ``candidate`` on the given pipe ends
        (and writing its replies into the shared region ``reply_fd``, when not -1)."""
        request: dict[str, Any] = {"op": "spawn", "candidate": str(candidate), "entry": entry,
                                   "threads": threads, "env": env}
        request["plan"] = plan.to_json()
        with self._lock:
            for attempt in range(2):  # a parent that died since the last request is replaced once
                if not self.alive():
                    if self._sock is not None:
                        self._sock.close()
                    self._start()
                self._next_id += 1
                request["id"] = ident = self._next_id
                try:
                    socket.send_fds(self._sock, [json.dumps(request).encode()],
                                    [in_fd, out_fd] + ([reply_fd] if reply_fd >= 0 else []))
                    break
                except OSError:
                    if self._proc is not None:
                        self._proc.kill()
                        self._proc.wait()
                    if attempt:
                        raise PoolError("the warm sandbox parent stopped answering") from None
        reply = self._wait_reply(ident)
        if reply.get("op") != "spawned":
            raise PoolError(str(reply.get("error", "the warm sandbox parent could not fork a worker")))
        self.spawned += 1
        return ForkedProcess(self, int(reply["pid"]), self.generation)

    def _wait_reply(self, ident: int) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        with self._exits:
            while ident not in self._replies and -1 not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {"error": "the warm sandbox parent did not answer"}
                self._exits.wait(left)
            return self._replies.pop(ident, None) or self._replies.pop(-1)

    def exit_code(self, pid: int, generation: int) -> int | None:
        """A worker's exit code (negative: killed by that signal), or None while it runs."""
        with self._exits:
            if generation == self.generation and pid in self._codes:
                return self._codes[pid]
            if generation != self.generation or not self.alive():
                return -9  # its parent is gone and took its workers with it
            return None

    def wait_exit(self, pid: int, generation: int, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._exits:
            while True:
                code = self.exit_code(pid, generation)
                if code is not None:
                    self._codes.pop(pid, None)
                    return code
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._exits.wait(0.05 if left is None else min(left, 0.05))


_pools: dict[tuple[int, tuple[str, ...]], WarmPool] = {}
_pools_lock = threading.Lock()


def shared_pool(torch_threads: int = 1, preload: tuple[str, ...] = ()) -> WarmPool:
    """The process-wide warm pool for workers with ``torch_threads`` threads whose parent imported ``preload``."""
    key = (torch_threads, tuple(preload))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = WarmPool(torch_threads, key[1])
            atexit.register(pool.close)
        return pool


def warm_pool_supported() -> bool:
    """Whether this platform can fork warm workers (Linux; off with ``BEAM_SANDBOX=fresh``)."""
    return sys.platform == "linux" and os.environ.get("BEAM_SANDBOX", "warm") != "fresh"
