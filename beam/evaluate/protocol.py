"""Wire format between the host and a sandbox worker.

A message is a 4-byte big-endian header length, a JSON header, then the raw
bytes of the arrays the header describes. JSON and raw buffers only: the host
never unpickles anything a candidate produced. A worker's reply may instead
leave its arrays in a :class:`ReplyRegion` (shared memory the host maps
read-only); the header then gives each array's ``offset`` there.
"""
from __future__ import annotations

import fcntl
import json
import math
import mmap
import os
import select
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

ALLOWED_DTYPES = {"int64", "int32", "int16", "int8", "uint8", "bool", "float64", "float32", "float16"}
MAX_HEADER_BYTES = 1 << 20
PIPE_BYTES = 1 << 20
REPLY_REGION_BYTES = 8 << 20
ALIGN = 64  # byte alignment of arrays in an arena or a reply region


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class DeadlineExceeded(TimeoutError):
    """The other side did not finish its message in time."""


def encode(header: dict[str, Any], arrays: list[np.ndarray] | tuple = (),
           region: "ReplyRegion | None" = None) -> list[memoryview]:
    """Serialise a header and arrays into one message: a list of buffers (the arrays are not copied).

    With a ``region`` (the worker's side of a :class:`ReplyRegion`) the arrays are copied into
    it instead, when they fit, and the message is the header alone.
    """
    arrays = [np.ascontiguousarray(a) for a in arrays]
    specs = [{"dtype": a.dtype.name, "shape": list(a.shape)} for a in arrays]
    offsets = region.place(arrays) if region is not None and arrays else None
    if offsets is not None:
        for spec, offset in zip(specs, offsets):
            spec["offset"] = offset
    head = json.dumps(dict(header, arrays=specs)).encode()
    raw = [memoryview(a).cast("B") for a in arrays if a.size and offsets is None]
    return [memoryview(struct.pack(">I", len(head)) + head)] + raw


class ReplyRegion:
    """Shared memory (a Linux memfd) that a worker writes its replies' arrays into, so that an output
    crosses to the host in one memory copy instead of through a pipe (two copies and a system call per
    chunk: ~0.3 ms of a ~1 MB EPLB plan). The host maps it read-only and copies what it keeps; it
    trusts nothing in it (offsets and sizes are checked against the region's bounds).
    """

    def __init__(self, fd: int, size: int, writable: bool) -> None:
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)   # page tables filled now, not mid-call
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        self.fd, self.size = fd, size
        self._map = mmap.mmap(fd, size, flags=flags, prot=prot)

    @classmethod
    def create(cls, size: int = REPLY_REGION_BYTES) -> "ReplyRegion | None":
        """The host's side: a fresh region of ``size`` bytes (its ``fd`` goes to the worker), or None where
        shared memory files are not available (replies then travel through the pipe)."""
        if not (hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")):
            return None
        fd = -1
        try:
            fd = os.memfd_create("beam-reply", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            os.ftruncate(fd, size)
            os.posix_fallocate(fd, 0, size)                          # allocate the pages once, up front
            # sealed at this size: nobody (the candidate included) can shrink it under the host's mapping,
            # where reading past the end would kill the host with SIGBUS
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            return cls(fd, size, writable=False)
        except OSError:
            if fd >= 0:
                os.close(fd)
            return None

    @classmethod
    def attach(cls, fd: int) -> "ReplyRegion":
        """The worker's side: map the region the host passed as ``fd``, writable."""
        return cls(fd, os.fstat(fd).st_size, writable=True)

    def place(self, arrays: list[np.ndarray]) -> list[int] | None:
        """Copy C-contiguous ``arrays`` into the region; their offsets, or None when they do not fit."""
        offsets, end = [], 0
        for array in arrays:
            start = -(-end // ALIGN) * ALIGN
            end = start + array.nbytes
            if end > self.size:
                return None
            offsets.append(start)
        target = np.frombuffer(self._map, dtype=np.uint8)
        for array, start in zip(arrays, offsets):
            target[start:start + array.nbytes] = array.reshape(-1).view(np.uint8)
        return offsets

    def view(self, offset: object, dtype: np.dtype, shape: list[int], size: int) -> np.ndarray:
        """The array a reply says lies at ``offset`` (read-only; valid until the worker's next reply)."""
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or offset + size > self.size:
            raise ProtocolError(f"array at offset {offset!r} of {size} bytes lies outside the reply region")
        if offset % dtype.itemsize:
            raise ProtocolError(f"array of {dtype.name} at offset {offset} is not aligned")
        return np.frombuffer(self._map, dtype=dtype, count=size // dtype.itemsize, offset=offset).reshape(shape)

    def close_descriptor(self) -> None:
        """Close the file descriptor (once the other side has its own); the mapping stays."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def close(self) -> None:
        """Close the descriptor; the mapping goes when the last array viewing it does."""
        self.close_descriptor()
        try:
            self._map.close()
        except BufferError:   # arrays still view it
            pass


def widen_pipe(fd: int, size: int = PIPE_BYTES) -> int:
    """Ask for a pipe buffer of ``size`` bytes, so that a whole message (an EPLB plan is ~0.6 MB) is written
    without the writer waiting for the reader chunk by chunk (64 KiB by default, a context switch each).

    The kernel caps it (``/proc/sys/fs/pipe-max-size``, per-user limits); on refusal the pipe keeps its
    size. Returns the size in effect.
    """
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        limit = size
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(size, limit))
    except OSError:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)


def _wait(fd: int, deadline: float | None, writable: bool = False) -> None:
    if deadline is None:
        return
    left = deadline - time.perf_counter()
    ready = select.select([], [fd], [], max(left, 0))[1] if writable else select.select([fd], [], [], max(left, 0))[0]
    if not ready:
        raise DeadlineExceeded("deadline passed")


def _read_exact(fd: int, size: int, deadline: float | None = None) -> bytes:
    chunks, left = [], size
    while left:
        _wait(fd, deadline)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_into(fd: int, buffer: memoryview, deadline: float | None = None) -> None:
    """Fill ``buffer`` from ``fd`` without intermediate copies."""
    while len(buffer):
        _wait(fd, deadline)
        count = os.readv(fd, [buffer])
        if not count:
            raise EOFError("the other side closed the channel")
        buffer = buffer[count:]


class Arena:
    """A reusable receive buffer: a message's arrays are read into it, so that no fresh pages are faulted in
    while a call is being timed. The arrays are views, valid until the next message: copy what you keep.
    """

    def __init__(self, limit: int = 64 << 20) -> None:
        self.limit = limit  # larger messages get fresh arrays: the arena never holds more than this for long
        self._buffer = np.empty(0, dtype=np.uint8)
        self._used = 0

    @classmethod
    def room(cls, sizes: list[int]) -> int:
        """Bytes the arena needs for arrays of ``sizes`` bytes, each aligned to :data:`ALIGN` bytes."""
        return sum(sizes) + ALIGN * len(sizes)

    def reset(self, room: int) -> None:
        """Make ``room`` bytes available (see :meth:`room`); forget earlier arrays."""
        if room > self._buffer.size:
            self._buffer = np.ones(max(room, self._buffer.size * 3 // 2), dtype=np.uint8)  # pages touched now
        self._used = 0

    def array(self, dtype: np.dtype, shape: list[int], size: int) -> np.ndarray:
        """The next ``size`` bytes as an array of ``dtype`` and ``shape``."""
        address = self._buffer.ctypes.data
        start = -(-(address + self._used) // ALIGN) * ALIGN - address        # aligned in memory
        if start + size > self._buffer.size:
            raise ValueError("arena too small: call reset() with room() of the message's arrays first")
        self._used = start + size
        return self._buffer[start:start + size].view(dtype).reshape(shape)


def read_message(fd: int, max_bytes: int, deadline: float | None = None, arena: Arena | None = None,
                 region: ReplyRegion | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Read one message from ``fd``; arrays above ``max_bytes`` in total are refused.

    With a ``deadline`` (a ``time.perf_counter()`` value) :class:`DeadlineExceeded` is
    raised when the message is not complete by then. With an ``arena`` the arrays are
    views into it (valid until its next message), else freshly allocated. Arrays the
    header places at an ``offset`` are read-only views into ``region`` (refused without one).
    """
    (head_len,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    if head_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {head_len} bytes is too large")
    try:
        header = json.loads(_read_exact(fd, head_len, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays", []), list):
        raise ProtocolError("header must be a JSON object with an 'arrays' list")
    specs, sizes = [], []
    for spec in header.get("arrays", []):
        try:
            dtype, shape = spec["dtype"], [int(s) for s in spec["shape"]]
        except (TypeError, KeyError, ValueError):
            raise ProtocolError(f"bad array description {spec!r}") from None
        if dtype not in ALLOWED_DTYPES or any(s < 0 for s in shape) or len(shape) > 8:
            raise ProtocolError(f"array of dtype {dtype!r} and shape {shape} is not allowed")
        if "offset" in spec and region is None:
            raise ProtocolError("the message places an array in shared memory, but this channel has none")
        size = math.prod(shape) * np.dtype(dtype).itemsize       # Python ints: no wrap-around to 0 or below
        if size > max_bytes:
            raise ProtocolError(f"output of {size} bytes exceeds the limit of {max_bytes} bytes")
        specs.append((np.dtype(dtype), shape, spec.get("offset")))
        sizes.append(size)
    if sum(sizes) > max_bytes:
        raise ProtocolError(f"output of {sum(sizes)} bytes exceeds the limit of {max_bytes} bytes")
    inline = [size for (_, _, offset), size in zip(specs, sizes) if offset is None]
    if arena is not None and Arena.room(inline) > arena.limit:
        arena = None
    if arena is not None:
        arena.reset(Arena.room(inline))
    arrays = []
    for (dtype, shape, offset), size in zip(specs, sizes):
        try:
            if offset is not None:
                arrays.append(region.view(offset, dtype, shape, size))
                continue
            array = np.empty(shape, dtype=dtype) if arena is None else arena.array(dtype, shape, size)
        except (ValueError, OverflowError) as exc:                   # e.g. a zero-size shape numpy cannot hold
            raise ProtocolError(f"array of dtype {dtype.name} and shape {shape} cannot be made: {exc}") from None
        _read_into(fd, memoryview(array).cast("B") if size else memoryview(b""), deadline)
        arrays.append(array)
    return header, arrays


def write_message(fd: int, parts: bytes | list[memoryview], deadline: float | None = None) -> None:
    """Write a whole encoded message (bytes, or the buffers :func:`encode` returns) to ``fd``."""
    for part in ([memoryview(parts)] if isinstance(parts, (bytes, bytearray)) else parts):
        view = part
        while view:
            _wait(fd, deadline, writable=True)
            try:
                written = os.write(fd, view[: 1 << 20])
            except BlockingIOError:
                continue
            view = view[written:]
