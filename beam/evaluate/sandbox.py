"""Host side of the sandbox: run one candidate module in an isolated, limited child process.

>>> with Sandbox("solver.py", "rebalance_experts") as box:   # doctest: +SKIP
...     result = box.call(weight_array, 288, 8, 4, 32)
...     phy2log, log2phy, logcnt = result.outputs

Timing is measured here, in the host, around the whole request/reply, so the
candidate cannot fake it by patching clocks in its own process. Between calls
the host may :meth:`Sandbox.pause` the child (SIGSTOP on its process group) so
that background threads cannot steal CPU from anything the host times meanwhile.
An argument may be a :class:`beam.evaluate.callback.HostCallback`: the candidate
then gets a function it can call mid-call to have the host compute something
(see :mod:`beam.evaluate.callback`); the host's time answering is not counted.
"""
from __future__ import annotations

import importlib.util
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from beam.evaluate import isolation, warm
from beam.evaluate.callback import MAX_ERROR_CHARS, CallbackRefused, HostCallback
from beam.evaluate.protocol import (Arena, DeadlineExceeded, ProtocolError, ReplyRegion, encode, read_message,
                                    widen_pipe, write_message)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARRAY_TYPES = ("torch", "numpy")
MEMORY_MARKERS = ("MemoryError", "can't allocate memory", "not enough memory", "std::bad_alloc",
                  "Cannot allocate memory")


@dataclass
class SandboxLimits:
    """Resource limits for one sandboxed candidate (all calls together for the CPU limit)."""

    call_timeout_s: float = 10.0
    start_timeout_s: float = 60.0
    cpu_seconds: int = 300
    memory_mb: int = 4096
    file_mb: int = 16
    disk_mb: int = 64  # the writable scratch folder and /dev/shm (Linux as root: tmpfs of this size)
    max_output_mb: int = 256
    extra_threads: int = 256
    torch_threads: int = 1
    network: bool = False
    device: str = "cpu"  # where the worker puts its inputs: "cpu" or "cuda[:N]" (no address-space limit then)
    fresh_process: bool = False  # start a new interpreter instead of forking from the warm parent
    shared_replies: bool = True  # replies' arrays through shared memory (one copy) where Linux offers it
    preload: tuple[str, ...] = ()  # trusted library modules the warm parent imports once (e.g. compiled kernels)

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> "SandboxLimits":
        """Limits from a problem's ``[limits]`` table; keyword overrides win, unknown keys are ignored.

        >>> SandboxLimits.from_config({"memory_mb": 512, "evaluation_timeout_s": 9}, cpu_seconds=5).memory_mb
        512
        """
        merged = dict(config, **overrides)
        fields = {k: v for k, v in merged.items() if k in cls.__dataclass_fields__}
        if "preload" in fields:
            preload = fields["preload"]
            if isinstance(preload, str) or not all(isinstance(m, str) and m for m in preload):
                raise ValueError(f"[limits] preload must be a list of module names, got {preload!r}")
            fields["preload"] = tuple(preload)
        return cls(**fields)


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when this host sees an NVIDIA GPU, else ``"cpu"``; others are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this machine has no usable CUDA GPU "
                         f"(torch {torch.__version__}, torch.cuda.is_available() is False)")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device {device!r}: choose cpu, cuda, cuda:N or auto")
    return device


def device_name(device: str) -> str:
    """What a result should record about where it ran: the GPU's name, or ``cpu``."""
    if not device.startswith("cuda"):
        return "cpu"
    import torch

    return torch.cuda.get_device_name(torch.device(device))


class SandboxError(Exception):
    """A candidate failed in a way the caller should record: ``kind`` says how.

    Kinds: ``load`` (import failed), ``runtime`` (the call raised), ``timeout``,
    ``memory``, ``crash`` (the process died), ``protocol`` (malformed reply),
    ``violation`` (the candidate broke the rules of the channel).
    """

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def repository_dirs(root: Path) -> list[Path]:
    """The git directory of the checkout at ``root`` (its history holds every problem's seeds and data)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return [dot_git]
    if dot_git.is_file():  # a worktree: "gitdir: <common>/worktrees/<name>"
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = (root / text.split(":", 1)[1].strip()).resolve()
            common = gitdir / "commondir"
            if common.is_file():
                return [(gitdir / common.read_text().strip()).resolve()]
            return [gitdir]
    return []


def _own_uid(workdir: Path) -> tuple[int, list[tuple[Path, str]]] | None:
    """A uid of its own for the next sandbox, when this is Linux as root and the worker can read what it
    needs as that uid (the project, the interpreter and its packages), with the closed folders on the
    way to them that the child must expose (see ``isolation.closed_folders``)."""
    if sys.platform != "linux" or not isolation.running_as_root():
        return None
    needed = [workdir, PROJECT_ROOT / "beam", PROJECT_ROOT / "heubase", Path(sys.executable), Path(os.__file__).parent]
    for package in ("numpy", "torch"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            needed.append(Path(list(spec.submodule_search_locations)[0]))
    exposed = isolation.closed_folders(needed)
    return None if exposed is None else (isolation.sandbox_uid(), exposed)


@dataclass
class CallResult:
    """Outputs of one call and the wall time the host measured around it.

    ``seconds`` excludes ``host_seconds``, the time the host spent answering the
    call's ``requests`` to host callbacks.
    """

    outputs: list[np.ndarray]
    seconds: float
    host_seconds: float = 0.0
    requests: int = 0


@dataclass
class Sandbox:
    """One isolated worker process serving calls to ``entry`` of the module at ``source``.

    ``arrays`` says how array arguments reach the candidate: ``"torch"`` tensors
    (the default) or ``"numpy"`` arrays (the worker then does not import torch).
    """

    source: Path | str
    entry: str
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    hidden_paths: tuple[Path, ...] = ()
    warm: bool | None = None  # fork from the warm parent (None: where supported, see beam.evaluate.warm)
    arrays: str = "torch"

    def __post_init__(self) -> None:
        if self.arrays not in ARRAY_TYPES:
            raise ValueError(f"arrays must be one of {', '.join(ARRAY_TYPES)}, got {self.arrays!r}")
        self._proc: subprocess.Popen | warm.ForkedProcess | None = None
        self._workdir: Path | None = None
        self._marker = f"BEAM_SANDBOX_ID={uuid.uuid4().hex}"
        self._paused = False
        self._nonce = 0
        self._served = [0.0, 0]  # host seconds answering requests, requests answered (current call)
        self._arena = Arena()  # replies are read into it: no page faults while a call is timed
        self._region: ReplyRegion | None = None  # or the worker writes them into shared memory
        self.replies_in_region = 0  # messages whose arrays came through the region (not the pipe)
        self._uid: int | None = None
        self.enforced: list[str] = []
        self.keywords: list[str] = []

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> "Sandbox":
        """Start the worker and import the candidate; raises :class:`SandboxError` on failure."""
        source = Path(self.source)
        self._workdir = Path(tempfile.mkdtemp(prefix="beam-sandbox-"))
        shutil.copyfile(source, self._workdir / "candidate.py")
        scratch = self._workdir / "home"
        scratch.mkdir()
        isolation.make_host_undumpable()
        self._workdir.chmod(0o755)
        own = _own_uid(self._workdir)
        self._uid, exposed = own if own is not None else (None, [])
        if self._uid is not None:
            (self._workdir / "candidate.py").chmod(0o644)
            os.chown(scratch, self._uid, self._uid)
        root_threads = isolation.count_user_threads(0) if isolation.running_as_root() and self._uid is None else 0
        plan = isolation.IsolationPlan(
            workdir=self._workdir, cpu_seconds=self.limits.cpu_seconds,
            memory_bytes=0 if self.limits.device.startswith("cuda") else self.limits.memory_mb << 20,
            file_bytes=self.limits.file_mb << 20,
            max_threads=self.limits.extra_threads + root_threads,
            hidden_paths=[Path(p).resolve() for p in (*self.hidden_paths, *repository_dirs(PROJECT_ROOT))],
            network=self.limits.network, scratch=scratch, scratch_bytes=self.limits.disk_mb << 20, uid=self._uid,
            exposed=exposed)
        self.enforced = isolation.enforced_features(plan)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        for fd in (self._to_child, from_child_w):
            widen_pipe(fd)
        os.set_blocking(self._to_child, False)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
               "PYTHONPATH": str(PROJECT_ROOT), "OMP_NUM_THREADS": str(self.limits.torch_threads),
               "MKL_NUM_THREADS": str(self.limits.torch_threads),
               "BEAM_TORCH_THREADS": str(self.limits.torch_threads), "BEAM_SANDBOX_ARRAYS": self.arrays}
        if "CUDA_VISIBLE_DEVICES" in os.environ:  # the GPUs a scheduler (e.g. Ray) gave this evaluation
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        candidate = self._workdir / "candidate.py"
        use_warm = self.warm if self.warm is not None else (
            warm.warm_pool_supported() and not self.limits.fresh_process)
        self._region = ReplyRegion.create() if self.limits.shared_replies else None
        reply_fd = self._region.fd if self._region is not None else -1
        try:
            if use_warm:
                pool = warm.shared_pool(self.limits.torch_threads, self.limits.preload)
                self._proc = pool.spawn(plan, candidate, self.entry, to_child_r, from_child_w,
                                        {k: env[k] for k in ("HOME", "TMPDIR", "BEAM_SANDBOX_ARRAYS",
                                                             "CUDA_VISIBLE_DEVICES") if k in env},
                                        self.limits.torch_threads, reply_fd)
            else:
                self._proc = self._popen(plan, candidate, env, to_child_r, from_child_w, reply_fd)
        except (OSError, warm.PoolError) as exc:
            for fd in (to_child_r, from_child_w):
                os.close(fd)
            self.close()
            raise SandboxError("crash", f"could not start the sandbox worker: {exc}") from None
        os.close(to_child_r)
        os.close(from_child_w)
        if self._region is not None:
            self._region.close_descriptor()  # the worker has its own; the host keeps its read-only mapping
        deadline = time.perf_counter() + self.limits.start_timeout_s
        header, _ = self._receive(deadline, "starting the candidate")
        if not header.get("ok"):
            self.close()
            raise SandboxError("load", str(header.get("error", "the candidate could not be imported")))
        keywords = header.get("keywords")
        self.keywords = [str(k) for k in keywords] if isinstance(keywords, list) else []
        return self

    def _popen(self, plan: isolation.IsolationPlan, candidate: Path, env: dict[str, str],
               to_child_r: int, from_child_w: int, reply_fd: int = -1) -> subprocess.Popen:
        """Start a fresh interpreter for the worker (the slow path: pays for importing torch)."""
        key, value = self._marker.split("=")
        env = dict(env, **{key: value})
        fds = (to_child_r, from_child_w) + ((reply_fd,) if reply_fd >= 0 else ())
        with open(self._workdir / "stdout.txt", "wb") as out, open(self._workdir / "stderr.txt", "wb") as err:
            return subprocess.Popen(
                [sys.executable, "-s", "-B", "-m", "beam.evaluate.worker", str(candidate), self.entry,
                 *map(str, fds)],
                cwd=plan.scratch or self._workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                pass_fds=fds, preexec_fn=lambda: isolation.apply_in_child(plan))

    def accepts(self, name: str) -> bool:
        """Whether the entry function takes keyword ``name`` (by its signature, as the worker reported it)."""
        return name in self.keywords or "**" in self.keywords

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Kill the worker, anything it spawned, and remove its directory."""
        if self._proc is not None:
            self._kill()
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._proc = None
        if self._region is not None:
            self._region.close()
            self._region = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _kill(self) -> None:
        proc = self._proc
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._uid is not None:
            isolation.signal_uid(self._uid, signal.SIGKILL)
        if sys.platform == "linux" and isinstance(proc, subprocess.Popen):  # forked ones: their parent reaps
            for pid in isolation.processes_with_marker(self._marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self._proc is not None and self._proc.poll() is None

    # ----------------------------------------------------------------- control
    def pause(self) -> None:
        """Freeze the worker's whole process group (no CPU use until :meth:`resume`)."""
        if self._proc is not None and not self._paused:
            self._signal_group(signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        if self._proc is not None and self._paused:
            self._signal_group(signal.SIGCONT)
            self._paused = False

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        if self._uid is not None:  # processes that left the group (setsid) still carry the sandbox's uid
            isolation.signal_uid(self._uid, sig)

    def call(self, *args: Any, **kwargs: Any) -> CallResult:
        """Call the entry function; arrays become torch tensors (or numpy arrays, see ``arrays``) in the child,
        other args stay JSON values.

        The inputs are sent first and placed on ``limits.device`` (untimed); then the
        call itself is timed, from the request until the outputs are back on the
        host's CPU (so GPU work is complete): until the reply is read from the pipe,
        or, when the worker wrote its arrays into the shared reply region before
        sending the header, until the header arrives (the copy out is not timed;
        a worker that sends a header of its own before its plan is ready is caught
        as a stray message on the result channel at the next call). Raises :class:`SandboxError` for every
        failure; after a ``timeout``, ``crash``, ``protocol`` or ``violation`` the
        sandbox is closed. Keyword arguments are passed by name (check :meth:`accepts`).
        A :class:`HostCallback` argument reaches the candidate as a function that asks the host.
        """
        if self._proc is None:
            raise SandboxError("crash", "the sandbox is not running")
        self.resume()
        if select.select([self._from_child], [], [], 0)[0]:
            if not os.read(self._from_child, 1):  # end of file: the worker died between calls
                self._fail(*self._death_reason())
            self._fail("violation", "the candidate wrote to the result channel outside of a call")
        arrays, spec, callbacks = [], [], []
        for name, arg in [(None, a) for a in args] + list(kwargs.items()):
            if isinstance(arg, HostCallback):
                spec.append({"callback": len(callbacks)})
                callbacks.append(arg)
            elif isinstance(arg, np.ndarray):
                spec.append({"array": len(arrays)})
                arrays.append(arg)
            else:
                spec.append({"value": arg})
            if name is not None:
                spec[-1]["name"] = name
        deadline = time.perf_counter() + self.limits.call_timeout_s
        self._exchange(encode({"op": "stage", "nonce": self._next_nonce(), "device": self.limits.device,
                               "args": spec}, arrays), deadline, "placing the inputs")
        start = time.perf_counter()
        self._served = [0.0, 0]
        outputs = self._exchange(encode({"op": "call", "nonce": self._next_nonce()}), start
                                 + self.limits.call_timeout_s, "the call", callbacks)
        seconds = time.perf_counter() - start
        host_seconds, requests = self._served
        return CallResult(outputs=[np.array(a, copy=True) for a in outputs], seconds=seconds - host_seconds,
                          host_seconds=host_seconds, requests=requests)

    def _next_nonce(self) -> int:
        self._nonce += 1
        return self._nonce

    def _exchange(self, message: bytes, deadline: float, what: str,
                  callbacks: list[HostCallback] = ()) -> list[np.ndarray]:
        """Send one request and return the outputs of its reply (raising on any failure).

        Requests to ``callbacks`` arriving before the reply are answered; each
        pushes the deadline back by the host's time answering it.
        """
        try:
            write_message(self._to_child, message, deadline)
        except DeadlineExceeded:
            self._fail("timeout", f"the candidate did not accept its input within {self.limits.call_timeout_s:g} s")
        except (BrokenPipeError, OSError):
            self._fail(*self._death_reason())
        header, outputs = self._receive(deadline, what)
        refusals = 0
        while header.get("op") == "request":
            spent, refused = self._answer(header, [np.array(a, copy=True) for a in outputs], callbacks, deadline,
                                          refusals)
            refusals += refused
            deadline += spent
            header, outputs = self._receive(deadline, what)
        if header.get("nonce") != self._nonce:
            self._fail("violation", "the reply does not answer this call")
        if not header.get("ok"):
            error = str(header.get("error", f"{what} failed"))[:2000]
            kind = "memory" if any(m in error for m in MEMORY_MARKERS) else "runtime"
            raise SandboxError(kind, error)
        return outputs

    def _answer(self, header: dict, arrays: list[np.ndarray], callbacks: list[HostCallback],
                deadline: float, refusals: int) -> tuple[float, int]:
        """Answer one request to a host callback; ``(host seconds spent, 1 if refused else 0)``."""
        start = time.perf_counter()
        index = header.get("callback")
        if header.get("nonce") != self._nonce or not callbacks:
            self._fail("violation", "the candidate sent a request to the host outside of a call with a host callback")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(callbacks):
            self._fail("violation", f"the request names no host callback of this call ({index!r})")
        callback = callbacks[index]
        try:
            reply = encode({"op": "answer", "nonce": self._nonce}, callback.answer(arrays))
            refused = 0
        except CallbackRefused as exc:
            if refusals >= callback.max_refusals:
                self._fail("violation", f"the candidate kept asking after {refusals} refused requests; last: {exc}")
            reply = encode({"op": "refused", "nonce": self._nonce, "error": str(exc)[:MAX_ERROR_CHARS]})
            refused = 1
        except BaseException:
            self.close()  # a bug of the host's function: leave no half-answered worker behind
            raise
        try:
            write_message(self._to_child, reply, deadline + time.perf_counter() - start)
        except DeadlineExceeded:
            self._fail("timeout", "the candidate did not read the host's answer in time")
        except (BrokenPipeError, OSError):
            self._fail(*self._death_reason())
        spent = time.perf_counter() - start
        self._served[0] += spent
        self._served[1] += 1
        return spent, refused

    # ----------------------------------------------------------------- internals
    def _receive(self, deadline: float, what: str) -> tuple[dict, list[np.ndarray]]:
        try:
            header, arrays = read_message(self._from_child, self.limits.max_output_mb << 20, deadline, self._arena,
                                          self._region)
            if any(isinstance(spec, dict) and "offset" in spec for spec in header.get("arrays", [])):
                self.replies_in_region += 1
            return header, arrays
        except DeadlineExceeded:
            limit = self.limits.start_timeout_s if what == "starting the candidate" else self.limits.call_timeout_s
            self._fail("timeout", f"{what} did not finish within {limit:g} s")
        except EOFError:
            self._fail(*self._death_reason())
        except ProtocolError as exc:
            self._fail("protocol", str(exc))
        raise AssertionError("unreachable")

    def _fail(self, kind: str, message: str) -> None:
        self.close()
        raise SandboxError(kind, message)

    def _death_reason(self) -> tuple[str, str]:
        proc = self._proc
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "crash", "the worker closed its result channel but kept running"
        tail = self._stderr_tail()
        if code < 0:
            sig = signal.Signals(-code).name
            kind = {"SIGXCPU": "timeout", "SIGKILL": "crash", "SIGXFSZ": "violation"}.get(sig, "crash")
            reasons = {"SIGXCPU": "CPU-time limit exceeded", "SIGXFSZ": "file-size limit exceeded"}
            message = reasons.get(sig, f"the worker was killed by {sig}")
        else:
            kind, message = "crash", f"the worker exited with code {code}"
        if any(m in tail for m in MEMORY_MARKERS):
            kind = "memory"
        return kind, message + (f"; stderr: {tail}" if tail else "")

    def _stderr_tail(self, size: int = 600) -> str:
        if self._workdir is None:
            return ""
        try:
            with open(self._workdir / "stderr.txt", "rb") as err:
                err.seek(0, os.SEEK_END)
                err.seek(max(0, err.tell() - size))
                return err.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
