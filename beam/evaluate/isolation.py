"""OS-level isolation applied in the child between fork and exec.

What is enforced where (see SECURITY.md for the threat model):

* every POSIX system: new session (the whole process group is killed at the end),
  CPU-time, address-space, file-size and core-size limits, empty working
  directory, scrubbed environment;
* Linux: the host marks itself non-dumpable so other processes cannot read its
  memory through ``/proc/<pid>/mem``; ``no_new_privs`` on the child;
* Linux as root: a private network namespace (no network at all), a private
  mount namespace in which the root filesystem is read-only except a small
  tmpfs for the sandbox's scratch folder and another over ``/dev/shm``,
  configured paths hidden behind an empty read-only tmpfs, every capability
  dropped, and then a uid/gid of the sandbox's own with no supplementary
  groups (uid 0 without capabilities would still own every root-owned file,
  device node, socket and process on the machine);
* Linux as a normal user: a user + network namespace when the kernel allows it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import secrets
import stat
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522
LAST_CAP = 63
SANDBOX_UID_BASE = 0x60000000  # uids of sandboxes: unused by any account, inside the initial user namespace
SANDBOX_UID_SPAN = 1 << 24

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True) if sys.platform == "linux" else None


@dataclass
class IsolationPlan:
    """What the child should get; ``applied`` is filled in by the host's dry checks."""

    workdir: Path
    cpu_seconds: int
    memory_bytes: int
    file_bytes: int
    max_threads: int
    hidden_paths: list[Path] = field(default_factory=list)  # files or folders the child must not read
    network: bool = False
    scratch: Path | None = None  # writable folder (a tmpfs of scratch_bytes as root), the child's cwd
    scratch_bytes: int = 64 << 20
    uid: int | None = None  # switch to this uid/gid (as root) once the namespaces are set up
    exposed: list[tuple[Path, str]] = field(default_factory=list)  # (closed folder, the entry to show in it)

    def to_json(self) -> dict:
        """Plain JSON values (for the warm parent, which forks the child from another process)."""
        data = asdict(self)
        data["workdir"] = str(self.workdir)
        data["scratch"] = None if self.scratch is None else str(self.scratch)
        data["hidden_paths"] = [str(p) for p in self.hidden_paths]
        data["exposed"] = [[str(folder), entry] for folder, entry in self.exposed]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "IsolationPlan":
        """The inverse of :meth:`to_json`."""
        data = dict(data)
        data["workdir"] = Path(data["workdir"])
        data["scratch"] = None if data.get("scratch") is None else Path(data["scratch"])
        data["hidden_paths"] = [Path(p) for p in data.get("hidden_paths", [])]
        data["exposed"] = [(Path(folder), entry) for folder, entry in data.get("exposed", [])]
        return cls(**data)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, value: int) -> bool:
    """``prctl(option, value)`` on Linux; False where it is not available or fails."""
    return _libc is not None and _libc.prctl(option, value, 0, 0, 0) == 0


def make_host_undumpable() -> bool:
    """Stop other same-user processes (a candidate included) from reading this process's memory."""
    return prctl(PR_SET_DUMPABLE, 0)


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def enforced_features(plan: IsolationPlan) -> list[str]:
    """Human-readable list of what :func:`apply_in_child` will enforce on this machine."""
    features = ["process-group kill", "rlimit cpu", "rlimit file-size", "empty workdir", "scrubbed environment"]
    if plan.memory_bytes > 0:
        features.append("rlimit address-space")
    if sys.platform == "linux":
        features += ["host non-dumpable", "no_new_privs"]
        if running_as_root():
            features += ["rlimit threads", "read-only filesystem", "hidden paths", "capabilities dropped",
                         "scratch and /dev/shm size-limited"]
            if plan.uid is not None:
                features.append(f"own uid {plan.uid}")
            if not plan.network:
                features.append("no network (namespace)")
        elif not plan.network:
            features.append("no network (user namespace, if the kernel allows)")
    return features


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _expose(exposed: list[tuple[Path, str]]) -> None:
    """Cover each closed folder with an empty world-readable tmpfs and bind back only the one entry the
    worker needs (e.g. ``/root`` -> ``/root/.pyenv``): the sandbox uid reaches the interpreter, and
    nothing else of that folder, a home directory's keys included."""
    handles = [(folder, name, os.open(folder / name, os.O_PATH)) for folder, name in exposed]
    for folder, name, handle in handles:
        _mount("tmpfs", str(folder), "tmpfs", MS_NOSUID | MS_NODEV, "size=16k,nr_inodes=64,mode=0755")
        source = folder / name
        if os.path.isdir(f"/proc/self/fd/{handle}"):
            source.mkdir()
        else:
            source.touch()
        _mount(f"/proc/self/fd/{handle}", str(source), None, MS_BIND)
        os.close(handle)


def _private_filesystem(plan: IsolationPlan) -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _expose(plan.exposed)
    scratch = str(plan.scratch or plan.workdir)
    owner = f",uid={plan.uid},gid={plan.uid}" if plan.uid is not None else ""
    size = f"size={max(plan.scratch_bytes >> 10, 64)}k,nr_inodes=4096,mode=0700{owner}"
    _mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, size)
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, size)
    for hidden in plan.hidden_paths:
        if hidden.is_dir() and not plan.workdir.is_relative_to(hidden):
            _mount("tmpfs", str(hidden), "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
        elif hidden.is_file():
            _mount("/dev/null", str(hidden), None, MS_BIND)
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    os.chdir(scratch)  # enter the fresh tmpfs


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities(uid: int | None) -> None:
    for cap in range(LAST_CAP + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if uid is not None:  # leaving uid 0 clears the remaining capabilities as well
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def apply_in_child(plan: IsolationPlan) -> None:
    """Run in the forked child before exec (``preexec_fn``): apply every limit that this OS allows."""
    os.setsid()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (plan.cpu_seconds, plan.cpu_seconds + 1))
    if plan.memory_bytes > 0:  # 0: no address-space limit (GPU drivers reserve huge virtual ranges)
        resource.setrlimit(resource.RLIMIT_AS, (plan.memory_bytes, plan.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (plan.file_bytes, plan.file_bytes))
    if sys.platform != "linux":
        return
    if running_as_root():
        flags = CLONE_NEWNET if not plan.network else 0
        if flags:
            _check(_libc.unshare(flags), "unshare(network)")
        _private_filesystem(plan)
        resource.setrlimit(resource.RLIMIT_NPROC, (plan.max_threads, plan.max_threads))
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _drop_capabilities(plan.uid)
    else:
        if not plan.network:
            _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET)  # best effort: many kernels forbid it
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def count_user_threads(uid: int) -> int:
    """Threads currently owned by ``uid`` (RLIMIT_NPROC counts all of them, not just the child's)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            if int(fields["Uid"].split()[1]) == uid:
                total += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return total


def sandbox_uid() -> int:
    """A fresh uid for one sandbox, far above real accounts (no two live sandboxes share one in practice)."""
    return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN)


def closed_folders(paths: list[Path]) -> list[tuple[Path, str]] | None:
    """What an unrelated uid needs exposed to read ``paths``: ``(folder, entry)`` for every folder on
    the way that others may not enter, outermost first; ``None`` if a path itself is not world-readable."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        path = Path(path).resolve()
        try:
            mode = os.stat(path).st_mode
            if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
                return None
            for folder in reversed(path.parents):
                if not os.stat(folder).st_mode & stat.S_IXOTH:
                    entry = (folder, path.relative_to(folder).parts[0])
                    if entry not in found:
                        found.append(entry)
        except OSError:
            return None
    return sorted(found, key=lambda item: len(item[0].parts))


def processes_of_uid(uid: int) -> list[int]:
    """PIDs owned by ``uid`` (a sandbox's own uid: every process it started, escaped or not)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def signal_uid(uid: int, sig: int, rounds: int = 5) -> None:
    """Send ``sig`` to every process of ``uid``, again while new ones keep appearing (forks mid-scan)."""
    done: set[int] = set()
    for _ in range(rounds):
        fresh = [pid for pid in processes_of_uid(uid) if pid not in done]
        if not fresh:
            return
        for pid in fresh:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        done.update(fresh)


def processes_with_marker(marker: str) -> list[int]:
    """PIDs whose initial environment carries ``marker`` (finds escaped grandchildren too)."""
    needle = marker.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as env:
                if needle in env.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found
