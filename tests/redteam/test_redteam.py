"""Red-team suite: every hostile solver in ``attacks/`` goes through the real EPLB evaluator.

Each attack file's docstring has a line ``Expect: KIND[|KIND...]`` where a kind
is an evaluator ``error_kind`` (timeout, memory, crash, runtime, protocol,
violation, load, invalid, too_slow), ``honest`` (the run is valid and its score
is no better than the reference's: same balance at most, no faked speedup) or
``fast`` (valid, really faster, but its fitness stays below the reference's balance).

Besides its own outcome, every attack must leave the machine as it found it:
no file outside the sandbox changed (the project tree, a fake home with
secrets, a run database, /dev/shm, /tmp), no process of the sandbox survives,
no signal reached the test process, and the evaluation ends within its limits.
Attacks that detect their own success raise ``RuntimeError("ESCAPED: ...")``.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import beam.evaluate.sandbox as sandbox_module
from beam.evaluate.isolation import running_as_root
from beam.problem import load_problem
from beam.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
ATTACKS = sorted((Path(__file__).parent / "attacks").glob("*.py"))
TARGET = Path("/tmp/beam-redteam-target")
LIMITS = {"call_timeout_s": 5.0, "start_timeout_s": 15.0}
# A wrapper around the reference runs at about 1.0x; faked speed would show far above. Timings on a busy
# machine are noisy, so the cap is on the geometric mean over the shapes, with a looser one per shape.
SPEEDUP_CAP, SPEEDUP_CAP_ONE_SHAPE = 2.0, 4.0
WALL_LIMIT_S = 90.0
ROOT_ONLY = {"write_outside", "tamper_run_db", "read_home_secrets", "read_env_secrets", "read_raw_disk",
             "open_sockets", "signal_parent", "kill_reference_worker", "fill_disk", "fill_shared_memory",
             "seeds_from_git"}  # enforced only when BEAM runs as root on Linux (see SECURITY.md)
STRAY_FILES = ("/tmp/beam-redteam-pwned.txt", "/root/.beam-redteam-pwned", "/etc/beam-redteam-pwned",
               "/tmp/beam-redteam-pickle-ran", "/tmp/beam-redteam-import.txt")


def expected_kinds(path: Path) -> set[str]:
    match = re.search(r"^Expect: *([\w|]+) *$", path.read_text(), re.M)
    assert match, f"{path.name}: the docstring needs an 'Expect: KIND' line"
    return set(match.group(1).split("|"))


def attack_params():
    slow = {"loop_at_import", "memory_bomb", "memory_bomb_at_import", "fork_bomb", "seeds_from_git"}
    return [pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if path.stem in slow else [])
            for path in ATTACKS]


def tree_state(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``root``, skipping folders named in ``skip``."""
    state = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            state[path] = (info.st_size, info.st_mtime_ns)
    return state


def digest(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def marked_processes(prefix: str) -> dict[int, str]:
    """PIDs whose environment carries a sandbox marker starting with ``prefix`` (-> the marker)."""
    found = {}
    needle = b"BEAM_SANDBOX_ID="
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                env = open(f"/proc/{entry.name}/environ", "rb").read()
                cmdline = open(f"/proc/{entry.name}/cmdline", "rb").read()
            except OSError:
                continue
            marker = env.split(needle, 1)[1].split(b"\0", 1)[0].decode() if needle in env else ""
            if marker.startswith(prefix):
                found[int(entry.name)] = marker
            elif b"BEAM-REDTEAM-SURVIVOR" in cmdline:
                found[int(entry.name)] = "survivor"
    return found


class Machine:
    """The things outside the sandbox that an attack must not touch, and how to see they did not."""

    def __init__(self, tmp: Path):
        if TARGET.exists():
            subprocess.run(["rm", "-rf", str(TARGET)], check=True)
        (TARGET / "home" / ".ssh").mkdir(parents=True)
        (TARGET / "home" / ".config").mkdir()
        (TARGET / "runs").mkdir()
        TARGET.chmod(0o755)
        for secret in (TARGET / "home" / ".ssh" / "id_rsa", TARGET / "home" / ".config" / "api_key"):
            secret.write_text("REDTEAM_SECRET_VALUE\n")
            secret.chmod(0o600)
        (TARGET / "home" / ".bashrc").write_text("# harmless\n")
        store = RunStore(TARGET / "runs")
        store.add_program("def rebalance_experts(*a):\n    pass\n", "realised", "", 0, [], {})
        store.conn.close()
        self.tcp = socket.create_server(("127.0.0.1", 0))
        (TARGET / "tcp_port").write_text(str(self.tcp.getsockname()[1]))
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(str(TARGET / "host.sock"))
        self.unix.listen()
        os.chmod(TARGET / "host.sock", 0o600)
        self.secret_holder = subprocess.Popen(["sleep", "3600"], env={"REDTEAM": "REDTEAM_SECRET_VALUE"})
        self.signals = 0
        self.previous_handler = signal.signal(signal.SIGUSR1, self._count)
        self.target_digest = digest(TARGET)
        self.shm = set(os.listdir("/dev/shm"))

    def _count(self, *_):
        self.signals += 1

    def project_state(self):
        return tree_state(ROOT, skip=(".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "runs"))

    def changes(self, project_before) -> list[str]:
        problems = []
        after = self.project_state()
        changed = sorted(p for p in set(after) | set(project_before) if after.get(p) != project_before.get(p))
        problems += [f"project file changed: {p}" for p in changed]
        now = digest(TARGET)
        problems += [f"changed outside: {p}" for p in set(now) | set(self.target_digest)
                     if now.get(p) != self.target_digest.get(p)]
        problems += [f"new file in /dev/shm: {n}" for n in set(os.listdir("/dev/shm")) - self.shm
                     if n.startswith("beam-redteam")]
        problems += [f"stray file: {p}" for p in STRAY_FILES if os.path.exists(p)]
        return problems

    def close(self):
        signal.signal(signal.SIGUSR1, self.previous_handler)
        self.secret_holder.kill()
        self.secret_holder.wait()
        self.tcp.close()
        self.unix.close()
        for name in os.listdir("/dev/shm"):
            if name.startswith("beam-redteam"):
                os.remove(f"/dev/shm/{name}")
        for path in STRAY_FILES:
            if os.path.exists(path):
                os.remove(path)


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    state = Machine(tmp_path_factory.mktemp("redteam"))
    yield state
    state.close()


@pytest.fixture(scope="module")
def eplb():
    problem = load_problem(ROOT / "problems" / "eplb")
    workloads = problem.evaluator().workloads
    cfg = problem.section("workloads")
    # the validation generator itself, with fewer windows and layers: a leak of the seeds would pay off
    windows = workloads.generate(int(cfg["seeds"]["validation"]), windows=3, layers=4, experts=256)
    return problem, windows


@pytest.fixture
def tagged_markers(monkeypatch):
    """Give every sandbox started during the test a recognisable marker prefix."""
    prefix = f"redteam{uuid.uuid4().hex[:8]}"

    class Tagged:
        @staticmethod
        def uuid4():
            return type("U", (), {"hex": f"{prefix}{uuid.uuid4().hex}"})()

    monkeypatch.setattr(sandbox_module, "uuid", Tagged)
    return prefix


@pytest.mark.skipif(sys.platform != "linux", reason="the red-team suite checks Linux isolation")
@pytest.mark.parametrize("attack", attack_params())
def test_attack_is_contained(attack: Path, eplb, machine, tagged_markers):
    if attack.stem in ROOT_ONLY and not running_as_root():
        pytest.skip("enforced only when BEAM runs as root on Linux (SECURITY.md)")
    problem, windows = eplb
    expected = expected_kinds(attack)
    project_before = machine.project_state()
    signals_before = machine.signals
    started = time.perf_counter()
    result = problem.evaluate(attack, windows=windows, **LIMITS)
    elapsed = time.perf_counter() - started

    assert "ESCAPED" not in str(result.get("error")), result["error"]
    if result["valid"]:
        assert expected & {"honest", "fast"}, f"expected {expected}, got a valid score {result['fitness']:.4f}"
        for name, shape in result["shapes"].items():
            assert shape["balancedness_gpu"] <= shape["reference"]["balancedness_gpu"] + 1e-9, name
            if "fast" in expected:
                assert shape["fitness"] < shape["reference"]["balancedness_gpu"], (name, shape["fitness"])
            else:
                assert shape["speedup_vs_reference"] < SPEEDUP_CAP_ONE_SHAPE, (name, shape["speedup_vs_reference"])
        speedups = [shape["speedup_vs_reference"] for shape in result["shapes"].values()]
        if "fast" not in expected:
            assert float(np.exp(np.mean(np.log(speedups)))) < SPEEDUP_CAP, speedups
    else:
        assert result["error_kind"] in expected, f"expected {expected}, got {result['error']}"
    assert elapsed < WALL_LIMIT_S
    time.sleep(0.2)  # let any signal the attack sent be delivered
    assert machine.signals == signals_before, "a signal reached the evaluator"
    reference = getattr(problem.evaluator()._local, "reference", None)
    survivors = {pid: marker for pid, marker in marked_processes(tagged_markers).items()
                 if reference is None or f"BEAM_SANDBOX_ID={marker}" != reference[1]._marker}
    assert not survivors, f"processes of the sandbox survived: {survivors}"
    assert machine.changes(project_before) == []


def test_every_attack_states_its_expectation():
    known = {"honest", "fast", "timeout", "memory", "crash", "runtime", "protocol", "violation", "load", "invalid",
             "too_slow"}
    assert len(ATTACKS) >= 30
    for attack in ATTACKS:
        assert expected_kinds(attack) <= known, attack.name
        assert '"""Attack:' in attack.read_text(), attack.name
