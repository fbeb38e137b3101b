"""The sandbox with real worker processes: limits, crashes and cheating attempts."""
from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from beam.evaluate import Sandbox, SandboxError, SandboxLimits
from beam.evaluate.isolation import running_as_root

WINDOW = np.arange(4 * 8, dtype=np.int64).reshape(4, 8)
LINUX_ROOT = sys.platform == "linux" and running_as_root()


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "solver.py"
    path.write_text(textwrap.dedent(body))
    return path


def run_once(tmp_path: Path, body: str, *args, limits: SandboxLimits | None = None, **kw):
    with Sandbox(write(tmp_path, body), "solve", limits or SandboxLimits(call_timeout_s=5), **kw) as box:
        return box.call(WINDOW, *args)


def test_call_returns_arrays_and_host_time(tmp_path):
    result = run_once(tmp_path, """
        import torch
        def solve(w, k):
            return w * k, torch.tensor([1.5])
    """, 3)
    assert np.array_equal(result.outputs[0], WINDOW * 3)
    assert result.outputs[1].dtype == np.float32
    assert 0 < result.seconds < 5


def test_outputs_of_one_call_survive_the_next(tmp_path):
    # replies are read into a reused buffer while timed; what call() returns must be the caller's own
    with Sandbox(write(tmp_path, """
        def solve(w, k):
            return w * k
    """), "solve", SandboxLimits(call_timeout_s=5)) as box:
        first = box.call(WINDOW, 2).outputs[0]
        second = box.call(WINDOW, 5).outputs[0]
    assert np.array_equal(first, WINDOW * 2) and np.array_equal(second, WINDOW * 5)
    assert not np.shares_memory(first, second)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-memory", "pipe"])
def test_replies_arrive_whole_through_shared_memory_or_the_pipe(tmp_path, shared):
    # the reply region holds 8 MB: the call with k=3 returns 9 MB and travels through the pipe instead
    with Sandbox(write(tmp_path, """
        import numpy as np, torch
        def solve(w, k):
            return (w * k, torch.full((58, 256, 6), -1, dtype=torch.int64), np.array([True, False]),
                    np.zeros((0, 3), dtype=np.float16), np.arange(9 << 17 if k == 3 else 5, dtype=np.int64) * k)
    """), "solve", SandboxLimits(call_timeout_s=5, shared_replies=shared)) as box:
        for k in (2, 3):
            out = box.call(WINDOW, k).outputs
            assert np.array_equal(out[0], WINDOW * k) and (out[1] == -1).all() and out[1].shape == (58, 256, 6)
            assert out[2].tolist() == [True, False] and out[3].shape == (0, 3) and out[3].dtype == np.float16
            assert np.array_equal(out[4], np.arange(9 << 17 if k == 3 else 5) * k)
            assert all(a.flags.writeable and a.flags.owndata for a in out)     # the caller's own copies
        assert box.replies_in_region == (1 if shared and hasattr(os, "memfd_create") else 0)   # the worker used it


def test_a_forged_shared_memory_reply_is_a_protocol_error(tmp_path):
    body = """
        import os, struct, json, sys
        def solve(w):
            fake = json.dumps({"ok": True, "nonce": 0, "arrays": [{"dtype": "int64", "shape": [8],
                                                                   "offset": 1 << 40}]}).encode()
            os.write(int(sys.argv[4]), struct.pack('>I', len(fake)) + fake)
            return w
    """
    with Sandbox(write(tmp_path, body), "solve", SandboxLimits(call_timeout_s=5)) as box:
        with pytest.raises(SandboxError) as err:
            box.call(WINDOW)
    assert err.value.kind == "protocol" and ("outside the reply region" in err.value.message
                                            or "has none" in err.value.message)  # no memfd: pipe replies only


def test_import_error_is_a_load_error(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, "import no_such_module_here\n")
    assert err.value.kind == "load" and "no_such_module_here" in err.value.message


def test_missing_entry_is_a_load_error(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, "def other(w):\n    return w\n")
    assert err.value.kind == "load" and "solve" in err.value.message


def test_exception_reports_message_and_line(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, "def solve(w):\n    raise ValueError('boom here')\n")
    assert err.value.kind == "runtime" and "boom here" in err.value.message and "candidate.py:2" in err.value.message


def test_infinite_loop_times_out_and_process_group_dies(tmp_path):
    start = time.perf_counter()
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, """
            import os
            def solve(w):
                if os.fork() == 0:
                    while True:
                        pass
                while True:
                    pass
        """, limits=SandboxLimits(call_timeout_s=1.0))
    assert err.value.kind == "timeout"
    assert time.perf_counter() - start < 15


def test_memory_bomb_is_contained(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, """
            import torch
            def solve(w):
                blocks = [torch.ones(1 << 28, dtype=torch.float64) for _ in range(64)]
                return w
        """, limits=SandboxLimits(memory_mb=3000, call_timeout_s=20))
    assert err.value.kind == "memory", err.value


def test_hard_exit_is_a_crash(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, "import os\ndef solve(w):\n    os._exit(7)\n")
    assert err.value.kind == "crash" and "code 7" in err.value.message


def test_segfault_is_a_crash(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, "import ctypes\ndef solve(w):\n    ctypes.string_at(0)\n")
    assert err.value.kind == "crash" and "SIGSEGV" in err.value.message


def test_wrong_output_type_is_a_runtime_error(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, "def solve(w):\n    return 'not a tensor'\n")
    assert err.value.kind == "runtime" and "tensors or arrays" in err.value.message


def test_huge_output_is_refused(tmp_path):
    with pytest.raises(SandboxError) as err:
        run_once(tmp_path, """
            import numpy as np
            def solve(w):
                return np.zeros(40 << 20, dtype=np.int64)
        """, limits=SandboxLimits(max_output_mb=64))
    assert err.value.kind == "protocol" and "exceeds the limit" in err.value.message


def test_patched_clock_does_not_fake_speed(tmp_path):
    result = run_once(tmp_path, """
        import time
        def solve(w):
            time.sleep(0.3)
            return w
        real = time.perf_counter
        time.perf_counter = lambda: 0.0
        time.time = lambda: 0.0
        time.monotonic = lambda: 0.0
    """)
    assert result.seconds >= 0.3


def test_unsolicited_reply_is_a_violation(tmp_path):
    body = """
        import os, struct, json
        def solve(w):
            fake = json.dumps({"ok": True, "nonce": 2, "arrays": []}).encode()
            os.write(int(__import__('sys').argv[4]), struct.pack('>I', len(fake)) + fake)
            return w
    """
    with Sandbox(write(tmp_path, body), "solve", SandboxLimits(call_timeout_s=5)) as box:
        with pytest.raises(SandboxError) as err:
            box.call(WINDOW)
            box.call(WINDOW)
    assert err.value.kind == "violation"


def test_paused_worker_uses_no_cpu(tmp_path):
    body = """
        import threading
        counter = [0]
        def spin():
            while True:
                counter[0] += 1
        threading.Thread(target=spin, daemon=True).start()
        def solve(w):
            import numpy as np
            return np.array([counter[0]])
    """
    with Sandbox(write(tmp_path, body), "solve", SandboxLimits(call_timeout_s=5)) as box:
        first = box.call(WINDOW).outputs[0][0]
        box.pause()
        time.sleep(0.5)
        box.resume()
        second = box.call(WINDOW).outputs[0][0]
        time.sleep(0.5)
        third = box.call(WINDOW).outputs[0][0]
    assert (second - first) * 5 < (third - second)


def test_environment_is_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    result = run_once(tmp_path, """
        import os, numpy as np
        def solve(w):
            return np.frombuffer(repr(sorted(os.environ.items())).encode(), dtype=np.uint8)
    """)
    text = result.outputs[0].tobytes().decode()
    assert "sk-secret-value" not in text and "OPENAI_API_KEY" not in text


def test_cannot_read_host_memory(tmp_path):
    secret = np.frombuffer(b"NEXT-WINDOW-SECRET-0123456789", dtype=np.uint8).copy()
    result = run_once(tmp_path, """
        import os, numpy as np
        def solve(w):
            try:
                with open(f"/proc/{os.getppid()}/mem", "rb") as mem:
                    mem.read(1)
                return np.array([1])
            except OSError:
                return np.array([0])
    """)
    assert secret.size and result.outputs[0][0] == 0


@pytest.mark.skipif(not LINUX_ROOT, reason="filesystem and network isolation need Linux as root")
def test_filesystem_is_read_only_outside_workdir(tmp_path):
    target = tmp_path / "outside.txt"
    result = run_once(tmp_path, f"""
        import numpy as np
        def solve(w):
            ok = 0
            try:
                open({str(target)!r}, "w").write("pwned")
            except OSError:
                ok += 1
            open("inside.txt", "w").write("fine")
            return np.array([ok])
    """)
    assert result.outputs[0][0] == 1 and not target.exists()


@pytest.mark.skipif(not LINUX_ROOT, reason="filesystem and network isolation need Linux as root")
def test_hidden_paths_are_empty(tmp_path):
    secret_dir = tmp_path / "data"
    secret_dir.mkdir()
    (secret_dir / "next_window.npz").write_bytes(b"secret")
    result = run_once(tmp_path, f"""
        import os, numpy as np
        def solve(w):
            try:
                return np.array([len(os.listdir({str(secret_dir)!r}))])
            except PermissionError:  # under the sandbox's own uid a closed parent folder already stops it
                return np.array([0])
    """, hidden_paths=(secret_dir,))
    assert result.outputs[0][0] == 0


@pytest.mark.skipif(not LINUX_ROOT, reason="filesystem and network isolation need Linux as root")
def test_no_network(tmp_path):
    result = run_once(tmp_path, """
        import socket, numpy as np
        def solve(w):
            try:
                socket.create_connection(("127.0.0.1", 9), timeout=1)
                return np.array([1])
            except OSError:
                return np.array([0])
    """)
    assert result.outputs[0][0] == 0


def test_numpy_arrays_mode_hands_numpy_and_does_not_import_torch(tmp_path, sandbox_mode):
    """Fresh workers skip the torch import; forked ones have it already (paid once by the warm parent)."""
    result = run_once(tmp_path, """
        import sys
        import numpy as np
        def solve(w, k):
            assert type(w) is np.ndarray, type(w)
            w[0, 0] = 99  # writable, like a tensor from torch.from_numpy
            return w * k, np.array([float("torch" in sys.modules)])
    """, 2, arrays="numpy")
    expected = WINDOW * 2
    expected[0, 0] = 198
    assert np.array_equal(result.outputs[0], expected)
    assert result.outputs[1][0] == (1.0 if sandbox_mode == "warm" else 0.0)


def test_unknown_arrays_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="arrays must be one of"):
        Sandbox(write(tmp_path, "def solve(w):\n    return w\n"), "solve", arrays="jax")
