"""The sandbox's pipes hold a whole EPLB plan, so the worker never waits for the host mid-message."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from beam.evaluate.protocol import PIPE_BYTES, Arena, encode, read_message, widen_pipe


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
    assert all(a.ctypes.data % Arena.ALIGN == 0 for a in arrays)
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
