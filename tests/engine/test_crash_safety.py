"""Crash safety of `beam evolve`: SIGKILL at several points and --resume; disk full; read-only run folder."""
from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from beam.evaluate.isolation import running_as_root
from beam.store import RunStore
from reproducible import reproducible_copy as small_problem
from test_evolve import ARGS, ROOT

# (what to wait for, extra random delay in seconds): a phase line on stderr or a row kind in the database
KILL_POINTS = [("initial population", 1.5), ("calibrated", 0.0), ("education", 2.0), ("adaptive memory", 0.0),
               ("evaluations>=14", 0.3)]
LINUX_ROOT = sys.platform == "linux" and running_as_root() and shutil.which("unshare") is not None


def command(problem: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "beam.cli", "evolve", str(problem), *ARGS, "--run-dir", str(run_dir),
            "--no-example", *extra]


def count(run_dir: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{run_dir / 'run.db'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


def reached(point: str, lines: list[str], run_dir: Path) -> bool:
    if point == "calibrated":
        return count(run_dir, "SELECT COUNT(*) FROM program WHERE kind = 'calibrated'") > 0
    if point.startswith("evaluations>="):
        return count(run_dir, "SELECT COUNT(*) FROM evaluation") >= int(point.split(">=")[1])
    return any(point in line for line in lines)


def run_until_killed(problem: Path, run_dir: Path, point: str, delay: float, resume: bool) -> bool:
    """Start (or resume) the run, SIGKILL it once ``point`` is reached; False if it finished first."""
    process = subprocess.Popen(command(problem, run_dir, *(["--resume"] if resume else [])), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    deadline = time.time() + 600
    while process.poll() is None and time.time() < deadline and not reached(point, lines, run_dir):
        time.sleep(0.2)
    time.sleep(delay)
    if process.poll() is not None:
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return True


def evaluated(run_dir: Path) -> dict[tuple[str, str], float | None]:
    with RunStore(run_dir) as store:
        assert store.integrity_check() == "ok"
        hashes = {p["id"]: p["hash"] for p in store.programs()}
        return {(hashes[e["program_id"]], e["split"]): e["fitness"] for e in store.evaluations()}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_killed_many_times_and_resumed_equals_an_uninterrupted_run(tmp_path):
    problem = small_problem(tmp_path)
    fresh = subprocess.run(command(problem, tmp_path / "fresh"), cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
    assert fresh.returncode == 0, fresh.stderr
    run_dir = tmp_path / "killed"
    rng = random.Random(6)
    kills = 0
    for index, (point, delay) in enumerate(KILL_POINTS):
        if not run_until_killed(problem, run_dir, point, delay * rng.random(), resume=index > 0):
            break
        kills += 1
        evaluated(run_dir)  # the killed run's database is consistent (integrity_check) and readable
    before_last = count(run_dir, "SELECT COUNT(*) FROM evaluation")
    done = subprocess.run(command(problem, run_dir, "--resume"), cwd=ROOT, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr
    assert kills >= 3, f"only {kills} kills landed before the run finished"
    expected, got = evaluated(tmp_path / "fresh"), evaluated(run_dir)
    assert set(got) == set(expected), "programs lost or extra after the kills"
    assert all(got[key] == pytest.approx(value) for key, value in expected.items() if value is not None)
    sandbox_runs = int(done.stdout.split(" sandbox runs")[0].rsplit(", ", 1)[-1])
    assert sandbox_runs <= len(got) - before_last + 1  # the last resume re-ran nothing already stored


def beam_error(done: subprocess.CompletedProcess) -> str:
    errors = [line for line in done.stderr.splitlines() if line.startswith("beam: error:")]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    assert len(errors) == 1, done.stderr
    return errors[0]



@pytest.mark.skipif(not LINUX_ROOT, reason="mounting a tiny tmpfs needs Linux as root")
def test_disk_full_is_one_clear_line(tmp_path):
    problem = small_problem(tmp_path)
    run_dir = tmp_path / "full"
    run_dir.mkdir()
    script = f"mount -t tmpfs -o size=160k tmpfs {run_dir} && exec {' '.join(command(problem, run_dir))}"
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    line = beam_error(done)
    assert str(run_dir) in line and "full" in line


def test_read_only_run_folder_is_one_clear_line(tmp_path):
    problem = small_problem(tmp_path)
    run_dir = tmp_path / "locked"
    run_dir.mkdir()
    beam = command(problem, run_dir / "run")
    if LINUX_ROOT:  # root ignores mode bits: make the folder a read-only mount instead
        script = (f"mount --bind {run_dir} {run_dir} && mount -o remount,ro,bind {run_dir} && "
                  f"exec {' '.join(beam)}")
        done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
    else:
        run_dir.chmod(0o555)
        done = subprocess.run(beam, cwd=ROOT, capture_output=True, text=True, timeout=600)
    line = beam_error(done)
    assert str(run_dir) in line and ("Read-only" in line or "not writable" in line or "denied" in line)
