"""Host callbacks through real sandbox workers (warm and fresh, see conftest.py): answers, refusals, abuse."""
from __future__ import annotations

import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from beam.evaluate import CallbackRefused, HostCallback, Sandbox, SandboxError, SandboxLimits


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "solver.py"
    path.write_text(textwrap.dedent(body))
    return path


def squares(x: np.ndarray) -> np.ndarray:
    """Row sums of squares of a float64 [n, 2] batch; anything else is refused."""
    if x.dtype != np.float64 or x.ndim != 2 or x.shape[1] != 2:
        raise CallbackRefused(f"expected float64 [n, 2], got {x.dtype} {list(x.shape)}")
    return (x ** 2).sum(axis=1)


def run(tmp_path: Path, body: str, *args, limits: SandboxLimits | None = None, arrays: str = "numpy"):
    with Sandbox(write(tmp_path, body), "solve", limits or SandboxLimits(call_timeout_s=5), arrays=arrays) as box:
        return box.call(*args)


def test_candidate_gets_the_hosts_answers(tmp_path):
    result = run(tmp_path, """
        import numpy as np
        def solve(f, n):
            values = [f(np.array([[float(k), 1.0], [2.0, 0.5]])) for k in range(n)]
            return np.stack(values)
    """, HostCallback(squares), 3)
    assert result.requests == 3
    # by hand: k^2 + 1 and 4 + 0.25
    assert np.array_equal(result.outputs[0], np.array([[1.0, 4.25], [2.0, 4.25], [5.0, 4.25]]))


def test_answers_reach_a_torch_candidate_as_tensors(tmp_path):
    result = run(tmp_path, """
        import torch
        def solve(f):
            out = f(torch.tensor([[3.0, 4.0]], dtype=torch.float64))
            return torch.tensor([float(isinstance(out, torch.Tensor)), float(out[0])])
    """, HostCallback(squares), arrays="torch")
    assert result.outputs[0].tolist() == [1.0, 25.0]


def test_host_time_is_not_counted_and_extends_the_deadline(tmp_path):
    def slow(x):
        time.sleep(0.4)
        return squares(x)

    result = run(tmp_path, """
        import numpy as np
        def solve(f):
            return np.array([f(np.zeros((1, 2)))[0] for _ in range(4)])
    """, HostCallback(slow), limits=SandboxLimits(call_timeout_s=1.0))
    assert result.requests == 4 and result.host_seconds >= 1.6  # 4 x 0.4 s, above the 1 s call limit
    assert result.seconds < 1.0


def test_refusal_raises_in_the_candidate_which_may_catch_it(tmp_path):
    result = run(tmp_path, """
        import numpy as np
        from beam.evaluate.callback import HostRefused
        def solve(f):
            try:
                f(np.zeros((3, 5)))
            except HostRefused as exc:
                return np.frombuffer(str(exc).encode(), dtype=np.uint8)
            return np.zeros(1, dtype=np.uint8)
    """, HostCallback(squares))
    assert result.outputs[0].tobytes().decode() == "expected float64 [n, 2], got float64 [3, 5]"


def test_uncaught_refusal_is_a_runtime_error_naming_the_reason(tmp_path):
    with pytest.raises(SandboxError) as err:
        run(tmp_path, """
            import numpy as np
            def solve(f):
                return f(np.zeros((2, 2), dtype=np.int64))
        """, HostCallback(squares))
    assert err.value.kind == "runtime" and "HostRefused" in err.value.message and "int64" in err.value.message


def test_flood_of_refused_requests_is_a_violation(tmp_path):
    with pytest.raises(SandboxError) as err:
        run(tmp_path, """
            import numpy as np
            def solve(f):
                while True:
                    try:
                        f(np.zeros(1))
                    except Exception:
                        pass
        """, HostCallback(squares, max_refusals=20))
    assert err.value.kind == "violation" and "20 refused" in err.value.message


def test_flood_of_valid_requests_ends_at_the_call_timeout(tmp_path):
    start = time.perf_counter()
    with pytest.raises(SandboxError) as err:
        run(tmp_path, """
            import numpy as np
            def solve(f):
                while True:
                    f(np.zeros((1, 2)))
        """, HostCallback(squares), limits=SandboxLimits(call_timeout_s=1.0))
    assert err.value.kind == "timeout" and time.perf_counter() - start < 10


def test_request_naming_no_callback_is_a_violation(tmp_path):
    with pytest.raises(SandboxError) as err:
        run(tmp_path, """
            import numpy as np
            def solve(f):
                f._index = 7
                return f(np.zeros((1, 2)))
        """, HostCallback(squares))
    assert err.value.kind == "violation" and "no host callback" in err.value.message


def test_request_in_a_call_without_callback_is_a_violation(tmp_path):
    body = """
        import sys, numpy as np
        from beam.evaluate.callback import HostFunction
        def solve(x):
            fake = HostFunction(int(sys.argv[3]), int(sys.argv[4]), 0)
            fake.nonce = 2
            return fake(np.zeros((1, 2)))
    """
    with pytest.raises(SandboxError) as err:
        run(tmp_path, body, np.zeros(3))
    assert err.value.kind == "violation" and "outside of a call" in err.value.message


def test_garbage_on_the_channel_is_a_protocol_error(tmp_path):
    with pytest.raises(SandboxError) as err:
        run(tmp_path, """
            import os, sys, struct
            def solve(f):
                head = b'{"op": "request", "callback": 0, "arrays": [{"dtype": "object", "shape": [1]}]}'
                os.write(int(sys.argv[4]), struct.pack('>I', len(head)) + head)
                while True:
                    pass
        """, HostCallback(squares))
    assert err.value.kind == "protocol" and "not allowed" in err.value.message


def test_host_bug_propagates_and_closes_the_sandbox(tmp_path):
    def broken(x):
        raise KeyError("host-side bug")

    box = Sandbox(write(tmp_path, """
        import numpy as np
        def solve(f):
            return f(np.zeros((1, 2)))
    """), "solve", SandboxLimits(call_timeout_s=5), arrays="numpy")
    with box:
        with pytest.raises(KeyError):
            box.call(HostCallback(broken))
        assert not box.alive()


def test_sandbox_serves_further_calls_after_callback_calls(tmp_path):
    counts = []

    def counting(x):
        counts.append(len(x))
        return squares(x)

    body = """
        import numpy as np
        def solve(f, n):
            return f(np.ones((n, 2)))
    """
    with Sandbox(write(tmp_path, body), "solve", SandboxLimits(call_timeout_s=5), arrays="numpy") as box:
        first = box.call(HostCallback(counting), 2)
        second = box.call(HostCallback(counting), 5)
    assert first.outputs[0].tolist() == [2.0, 2.0] and second.outputs[0].tolist() == [2.0] * 5
    assert counts == [2, 5]
