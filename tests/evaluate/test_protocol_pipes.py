"""The sandbox's pipes hold a whole EPLB plan, so the worker never waits for the host mid-message."""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from beam.evaluate.protocol import (ALIGN, PIPE_BYTES, Arena, ProtocolError, ReplyRegion, encode, read_message,
                                    widen_pipe)

needs_memfd = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="no shared memory files here")


def _pipe_max() -> int:
    return int(Path("/proc/sys/fs/pipe-max-size").read_text())


def test_a_widened_pipe_takes_a_whole_plan_without_a_reader():
    if _pipe_max() < PIPE_BYTES:
        pytest.skip("this kernel caps pipes below the size asked for")
    read_end, write_end = os.pipe()
    try:
        assert widen_pipe(write_end) >= PIPE_BYTES
        os.set_blocking(write_end, False)
        plan = [np.arange(58 * 288, dtype=np.int64), np.full(58 * 256 * 3, -1, dtype=np.int64),
                np.ones(58 * 256, dtype=np.int64)]                     # ~0.6 MB, as an EPLB plan
        message = b"".join(bytes(part) for part in encode({"op": "result"}, plan))
        assert os.write(write_end, message) == len(message)           # all of it at once, nobody reading yet
        header, arrays = read_message(read_end, max_bytes=1 << 24)
        assert header["op"] == "result"
        assert all(np.array_equal(a, b) for a, b in zip(arrays, plan))
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_default_pipe_would_have_made_the_writer_wait():
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)
        assert os.write(write_end, bytes(PIPE_BYTES)) < PIPE_BYTES  # a partial write: the rest must wait
    finally:
        os.close(read_end)
        os.close(write_end)


def test_widen_pipe_reports_the_size_in_effect_when_refused():
    read_end, write_end = os.pipe()
    try:
        size = widen_pipe(write_end, size=1 << 40)             # far above any cap: capped or refused
        assert 0 < size <= max(_pipe_max(), 1 << 16)
    finally:
        os.close(read_end)
        os.close(write_end)


def _send(message_parts) -> tuple[int, bytes]:
    """A pipe's read end holding the whole message (small enough for the pipe: nobody reads meanwhile)."""
    read_end, write_end = os.pipe()
    widen_pipe(write_end)
    data = b"".join(bytes(part) for part in message_parts)
    os.write(write_end, data)
    os.close(write_end)
    return read_end, data


def test_an_arena_reads_replies_into_one_reused_buffer_and_caps_what_it_holds():
    arena = Arena(limit=64 << 10)
    first = [np.arange(1000, dtype=np.int64), np.full((3, 5), 2.5)]
    fd, _ = _send(encode({"op": "result"}, first))
    _, arrays = read_message(fd, 1 << 24, arena=arena)
    os.close(fd)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(arrays, first))
    assert all(a.ctypes.data % ALIGN == 0 for a in arrays)
    kept = [a.copy() for a in arrays]
    fd, _ = _send(encode({"op": "result"}, [np.zeros(1000, dtype=np.int64)]))
    _, again = read_message(fd, 1 << 24, arena=arena)
    os.close(fd)
    assert np.shares_memory(again[0], arrays[0]) and not arrays[0].any()   # views: the next message overwrites
    assert np.array_equal(kept[0], first[0])
    big = [np.ones(20_000, dtype=np.int64)]                                # 160 kB > the arena's limit
    fd, _ = _send(encode({"op": "result"}, big))
    _, fresh = read_message(fd, 1 << 24, arena=arena)
    os.close(fd)
    assert np.array_equal(fresh[0], big[0]) and not np.shares_memory(fresh[0], again[0])


def _regions(size: int) -> tuple[ReplyRegion, ReplyRegion]:
    """The host's read-only side and a worker's writable side of one shared region."""
    host = ReplyRegion.create(size)
    assert host is not None
    return host, ReplyRegion.attach(os.dup(host.fd))


@needs_memfd
def test_a_reply_region_carries_the_arrays_and_the_pipe_only_the_header():
    host, worker = _regions(1 << 16)
    try:
        plan = [np.arange(100, dtype=np.int64).reshape(4, 25), np.array([2.5], dtype=np.float16),
                np.zeros((0, 3), dtype=np.int32), np.array([True, False])]
        parts = encode({"op": "result"}, plan, worker)
        assert len(parts) == 1                                          # the header: nothing else in the pipe
        fd, _ = _send(parts)
        _, arrays = read_message(fd, 1 << 24, region=host)
        os.close(fd)
        assert all(np.array_equal(a, b) and a.dtype == b.dtype and a.shape == b.shape for a, b in zip(arrays, plan))
        assert not any(a.flags.writeable for a in arrays)               # the host cannot write into it
        kept = arrays[0].copy()
        fd, _ = _send(encode({"op": "result"}, [np.full(100, 7, dtype=np.int64)], worker))
        _, again = read_message(fd, 1 << 24, region=host)
        os.close(fd)
        assert (arrays[0] == 7).all() and np.array_equal(kept, plan[0])  # views: the next reply overwrites
        assert (again[0] == 7).all()
    finally:
        host.close()
        worker.close()


@needs_memfd
def test_arrays_that_do_not_fit_the_region_travel_through_the_pipe():
    host, worker = _regions(4096)
    try:
        big = [np.arange(1000, dtype=np.int64)]                         # 8 kB > 4 kB
        parts = encode({"op": "result"}, big, worker)
        assert len(parts) == 2
        fd, _ = _send(parts)
        _, arrays = read_message(fd, 1 << 24, region=host)
        os.close(fd)
        assert np.array_equal(arrays[0], big[0])
    finally:
        host.close()
        worker.close()


def _forged(offset: object, dtype: str = "int64", shape: tuple = (4,)) -> list[bytes]:
    head = json.dumps({"ok": True, "arrays": [{"dtype": dtype, "shape": list(shape), "offset": offset}]}).encode()
    return [struct.pack(">I", len(head)) + head]


@needs_memfd
@pytest.mark.parametrize("offset, dtype, shape, message", [
    (4096, "int64", (1,), "outside the reply region"),               # past the end
    (4064, "int64", (8,), "outside the reply region"),               # runs over the end
    (-8, "int64", (1,), "outside the reply region"),
    (True, "int64", (1,), "outside the reply region"),
    ("0", "int64", (1,), "outside the reply region"),
    (4, "int64", (1,), "not aligned"),
])
def test_a_forged_offset_is_a_protocol_error(offset, dtype, shape, message):
    host, worker = _regions(4096)
    try:
        fd, _ = _send(_forged(offset, dtype, shape))
        with pytest.raises(ProtocolError, match=message):
            read_message(fd, 1 << 24, region=host)
        os.close(fd)
    finally:
        host.close()
        worker.close()


def test_an_offset_without_a_region_is_a_protocol_error():
    fd, _ = _send(_forged(0))
    with pytest.raises(ProtocolError, match="shared memory"):
        read_message(fd, 1 << 24)
    os.close(fd)


@needs_memfd
def test_the_region_cannot_be_shrunk_under_the_hosts_mapping():
    host, worker = _regions(1 << 16)
    try:
        with pytest.raises(PermissionError):
            os.ftruncate(worker.fd, 0)            # the worker's descriptor: what a candidate could reach
        with pytest.raises(PermissionError):
            os.ftruncate(worker.fd, 1 << 20)
        assert os.fstat(worker.fd).st_size == 1 << 16
    finally:
        host.close()
        worker.close()


@pytest.mark.parametrize("shape", [[1 << 32, 1 << 32], [3, 1 << 62], [0, 1 << 63], [-1, 4]])
@pytest.mark.parametrize("in_region", [False, True], ids=["pipe", "region"])
def test_a_forged_shape_is_a_protocol_error(shape, in_region):
    if in_region and not hasattr(os, "memfd_create"):
        pytest.skip("no shared memory files here")
    host, worker = _regions(4096) if in_region else (None, None)
    spec = {"dtype": "int8", "shape": shape, **({"offset": 0} if in_region else {})}
    head = json.dumps({"ok": True, "arrays": [spec]}).encode()
    fd, _ = _send([struct.pack(">I", len(head)) + head])
    try:
        with pytest.raises(ProtocolError):
            read_message(fd, 1 << 24, region=host)
    finally:
        os.close(fd)
        for region in (host, worker):
            if region is not None:
                region.close()
