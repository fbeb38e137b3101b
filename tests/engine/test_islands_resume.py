"""Islands + QUBE end to end: a run killed mid-way and resumed keeps its island state and ends like an uninterrupted one."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beam.store import RunStore
from reproducible import reproducible_copy as small_problem
from test_evolve import ROOT

QUBE = ["--generations", "4", "--population", "4", "--evaluations", "40", "--seed", "5", "--mode", "one-shot",
        "--no-calibrate", "--selection", "qube", "--islands", "2", "--reset-interval", "1", "--no-example"]


def command(problem: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "beam.cli", "evolve", str(problem), *QUBE, "--run-dir", str(run_dir), *extra]


def complete_generations(run_dir: Path) -> int:
    try:
        with sqlite3.connect(run_dir / "run.db", timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM selection_state WHERE partial = 0").fetchone()[0]
    except sqlite3.Error:
        return 0


def outcome(run_dir: Path) -> tuple[list, list, tuple]:
    """Selection state per generation, the resets of the last start, and the best (program source, fitness)."""
    with RunStore(run_dir) as store:
        states = [(s["generation"], s["partial"], s["state"]) for s in store.selection_states()]
        starts = [e["id"] for e in store.events("run_started")]
        resets = [e["detail"] for e in store.events("island_reset") if e["id"] > starts[-1]]
        assert not store.events("selection_state_diverged")
        program_id, fitness = store.best()[0]
        return states, resets, (store.get_program(program_id)["source"], fitness)


@pytest.mark.slow
def test_killed_and_resumed_run_keeps_the_island_state(tmp_path):
    problem = small_problem(tmp_path)
    fresh = subprocess.run(command(problem, tmp_path / "fresh"), cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    fresh_states, fresh_resets, fresh_best = outcome(tmp_path / "fresh")
    assert len(fresh_states) >= 4 and fresh_resets, "the run must go through several generations and resets"
    assert all(len(state["islands"]) == 2 for _, _, state in fresh_states)

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(problem, killed), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while complete_generations(killed) < 3 and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with RunStore(killed) as store:
        assert store.get_run("status") == "running", "the run finished before it could be killed"
        before = [(s["generation"], s["partial"], s["state"]) for s in store.selection_states()]
        assert len(before) >= 3 and store.events("island_reset")
    assert before == fresh_states[:len(before)]

    resumed = subprocess.run(command(problem, killed, "--resume"), cwd=ROOT, capture_output=True, text=True,
                             timeout=1200)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    states, resets, best = outcome(killed)
    assert states == fresh_states
    assert resets == fresh_resets
    assert best == fresh_best
