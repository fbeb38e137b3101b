"""The sandbox's pipes hold a whole EPLB plan, so the worker never waits for the host mid-message."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from beam.evaluate.protocol import PIPE_BYTES, encode, read_message, widen_pipe


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
