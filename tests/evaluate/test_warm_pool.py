"""The warm parent: a fresh, isolated process per candidate, escapees killed, a dead parent replaced."""
from __future__ import annotations

import os
import signal
import textwrap
import time

import numpy as np
import pytest

from beam.evaluate import Sandbox, SandboxError, SandboxLimits
from beam.evaluate import warm

WINDOW = np.arange(8, dtype=np.int64).reshape(2, 4)
LIMITS = SandboxLimits(call_timeout_s=5)


def solver(tmp_path, name: str, body: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_escaped_daemon_is_killed_after_close(tmp_path, sandbox_mode):
    """A double-forked, setsid'd daemon leaves the process group; it must still die with the sandbox."""
    path = solver(tmp_path, "daemon", """
        import os, time, torch
        def solve(w):
            r, wr = os.pipe()
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.write(wr, str(os.getpid()).encode().ljust(16))
                    while True:
                        time.sleep(0.01)
                os._exit(0)
            return torch.tensor([int(os.read(r, 16))])
    """)
    with Sandbox(path, "solve", LIMITS) as box:
        daemon = int(box.call(WINDOW).outputs[0][0])
        assert pid_alive(daemon)
    assert wait_dead(daemon), f"escaped process {daemon} survived the sandbox ({sandbox_mode})"


def test_each_candidate_gets_a_fresh_process(tmp_path, sandbox_mode):
    """Monkeypatching torch or keeping globals in one candidate leaves the next one untouched."""
    spoiler = solver(tmp_path, "spoiler", """
        import os, torch
        torch.add = lambda *a, **k: torch.zeros(1)
        def solve(w):
            return torch.tensor([os.getpid()])
    """)
    honest = solver(tmp_path, "honest", """
        import os, torch
        def solve(w):
            return torch.tensor([os.getpid()]), torch.add(w, 1)
    """)
    with Sandbox(spoiler, "solve", LIMITS) as box:
        first = int(box.call(WINDOW).outputs[0][0])
    with Sandbox(honest, "solve", LIMITS) as box:
        result = box.call(WINDOW)
    assert int(result.outputs[0][0]) != first
    assert np.array_equal(result.outputs[1], WINDOW + 1)


def test_dead_parent_is_replaced_and_its_workers_fail_cleanly(tmp_path, sandbox_mode):
    if sandbox_mode != "warm":
        pytest.skip("only the warm pool has a parent to lose")
    path = solver(tmp_path, "plain", """
        import torch
        def solve(w):
            return w + 1
    """)
    pool = warm.shared_pool(LIMITS.torch_threads)
    with Sandbox(path, "solve", LIMITS) as box:
        box.call(WINDOW)
        os.kill(pool._proc.pid, signal.SIGKILL)  # the parent dies and takes its workers with it
        assert wait_dead(box._proc.pid)
        with pytest.raises(SandboxError) as err:
            box.call(WINDOW)
        assert err.value.kind == "crash"
    with Sandbox(path, "solve", LIMITS) as box:  # a new parent is started on demand
        assert np.array_equal(box.call(WINDOW).outputs[0], WINDOW + 1)
    assert pool.alive()


def test_parent_outlives_the_thread_that_started_it(tmp_path, sandbox_mode):
    """Linux's parent-death signal follows the starting *thread*; the warm parent must not use it."""
    if sandbox_mode != "warm":
        pytest.skip("only the warm pool has a parent")
    import threading

    path = solver(tmp_path, "plain", "def solve(w):\n    return w\n")
    pool = warm.shared_pool(LIMITS.torch_threads)
    pool.close()  # the next sandbox starts a new parent, from the short-lived thread below

    def once():
        with Sandbox(path, "solve", LIMITS) as box:
            box.call(WINDOW)

    starter = threading.Thread(target=once)
    starter.start()
    starter.join()
    generation = pool.generation
    time.sleep(1.0)
    assert pool.alive()
    once()
    assert pool.generation == generation  # no restart was needed


def test_preloaded_modules_are_inherited_and_a_failing_preload_is_reported(tmp_path, sandbox_mode):
    """``preload`` modules are imported once by the warm parent; a worker finds them already imported."""
    path = solver(tmp_path, "probe", """
        import sys, torch
        def solve(w):
            return torch.tensor([int("heubase.eplb.hedge" in sys.modules), int("colorsys" in sys.modules)])
    """)
    limits = SandboxLimits(call_timeout_s=5, preload=("heubase.eplb.hedge", "no_such_module_for_beam"))
    with Sandbox(path, "solve", limits) as box:
        preloaded = box.call(WINDOW).outputs[0].tolist()
    with Sandbox(path, "solve", LIMITS) as box:
        plain = box.call(WINDOW).outputs[0].tolist()
    assert plain == [0, 0]
    if sandbox_mode != "warm":
        assert preloaded == [0, 0]                         # a fresh interpreter imports only what it uses
        return
    assert preloaded == [1, 0]
    pool = warm.shared_pool(limits.torch_threads, limits.preload)
    assert set(pool.preload_errors) == {"no_such_module_for_beam"}
    assert "ModuleNotFoundError" in pool.preload_errors["no_such_module_for_beam"]


def test_preload_must_be_a_list_of_module_names():
    assert SandboxLimits.from_config({"preload": ["heubase.eplb.lean"]}).preload == ("heubase.eplb.lean",)
    for bad in ("heubase.eplb.lean", [""], [3]):
        with pytest.raises(ValueError, match="preload"):
            SandboxLimits.from_config({"preload": bad})
