"""`beam evolve` end to end with the offline composer: database, calibration, memory, emitted solver, resume."""
from __future__ import annotations

import ast
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beam.program import Program
from beam.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--generations", "2", "--population", "2", "--evaluations", "24", "--seed", "5"]


def evolve(problem: Path, run_dir: Path, *extra: str, wait: bool = True):
    command = [sys.executable, "-m", "beam.cli", "evolve", str(problem), *ARGS, "--run-dir", str(run_dir), *extra]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, reproducible_eplb):
    folder = tmp_path_factory.mktemp("evolve")
    problem = reproducible_eplb
    done = evolve(problem, folder / "run", "--examples-dir", str(folder / "examples"))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, problem, done


@pytest.mark.slow
def test_run_database_holds_the_search(finished_run):
    folder, _, done = finished_run
    assert "solver written to" in done.stdout
    with RunStore(folder / "run") as store:
        assert store.integrity_check() == "ok"
        programs = store.programs()
        roles = {p["role"] for p in programs}
        assert {"fill_all", "calibration"} <= roles
        evaluations = store.evaluations(split="validation")
        assert len(evaluations) <= 24 and any(e["valid"] for e in evaluations)
        calibrated = [p for p in programs if p["role"] == "calibration"]
        changed = 0
        for program in calibrated:
            parent = store.get_program(program["parents"][0])
            before = {k: h.value for k, h in Program.parse(parent["source"]).hyperparameters().items()}
            after = {k: h.value for k, h in Program.parse(program["source"]).hyperparameters().items()}
            changed += before != after
            assert before["MAX_TIME"] == after["MAX_TIME"]
        assert changed > 0
        assert store.load_memory(), "the adaptive memory stayed empty"
        assert {e["event"] for e in store.memory_events()} & {"insert", "replace"}
        assert store.last_population() is not None
        assert store.evaluations(split="test")


@pytest.mark.slow
def test_emitted_solver_is_standalone_and_scores(finished_run):
    folder, problem, _ = finished_run
    solver = folder / "examples" / "eplb" / "solver.py"
    tree = ast.parse(solver.read_text())
    module_level, everywhere = set(), set()
    for imports, nodes in ((module_level, tree.body), (everywhere, ast.walk(tree))):
        for node in nodes:
            if isinstance(node, ast.ImportFrom):
                imports.add((node.module or "").split(".")[0])
            elif isinstance(node, ast.Import):
                imports.update(alias.name.split(".")[0] for alias in node.names)
    allowed = {"torch", "numpy", *sys.stdlib_module_names}
    assert module_level <= allowed, module_level
    assert everywhere <= allowed | {"numba"}, everywhere          # numba: optional, imported where it compiles
    assert (folder / "examples" / "eplb" / "README.md").read_text().count("| ") > 10
    lineage = json.loads((folder / "examples" / "eplb" / "lineage.json").read_text())
    assert lineage and lineage[0]["id"] > 0
    done = subprocess.run([sys.executable, "-m", "beam.cli", "eval", str(problem), str(solver), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"]


def _evaluations(run_dir: Path) -> int:
    try:
        with sqlite3.connect(run_dir / "run.db", timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM evaluation").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_resume_after_sigkill_loses_and_repeats_nothing(finished_run, tmp_path):
    folder, problem, _ = finished_run
    run_dir = tmp_path / "killed"
    process = evolve(problem, run_dir, "--no-example", wait=False)
    deadline = time.time() + 600
    while _evaluations(run_dir) < 6 and time.time() < deadline and process.poll() is None:
        time.sleep(0.5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with RunStore(run_dir) as store:
        assert store.integrity_check() == "ok"
        before = {(e["program_id"], e["split"]): e["fitness"] for e in store.evaluations()}
    assert len(before) >= 6
    done = evolve(problem, run_dir, "--no-example", "--resume")
    assert done.returncode == 0, done.stdout + done.stderr
    with RunStore(run_dir) as store:
        after = {(e["program_id"], e["split"]): e["fitness"] for e in store.evaluations()}
        resumed_best = store.best()[0]
        best_source = store.get_program(resumed_best[0])["source"]
    assert all(after[key] == value for key, value in before.items())
    sandbox_runs = int(done.stdout.split(" sandbox runs")[0].rsplit(", ", 1)[-1])
    assert sandbox_runs <= len(after) - len(before) + 1  # only new programs ran (plus the test-split run)
    with RunStore(folder / "run") as store:
        fresh_best = store.best()[0]
        fresh_source = store.get_program(fresh_best[0])["source"]
    assert resumed_best[1] == pytest.approx(fresh_best[1]) and best_source == fresh_source


@pytest.mark.slow
def test_resume_refuses_other_settings(finished_run):
    folder, problem, _ = finished_run
    done = subprocess.run([sys.executable, "-m", "beam.cli", "evolve", str(problem), "--run-dir", str(folder / "run"),
                           "--resume", "--seed", "99"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "same settings" in done.stderr


@pytest.mark.slow
def test_promote_writes_importable_heubase_modules_with_provenance(finished_run, tmp_path):
    folder, _, _ = finished_run
    dest = tmp_path / "evolved"
    done = subprocess.run([sys.executable, "-m", "beam.cli", "promote", str(folder / "run"), "--dest", str(dest),
                           "--top", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = sorted(p for p in dest.glob("*.py") if p.name != "__init__.py")
    assert 1 <= len(modules) <= 2
    from beam.catalog import catalog

    components = catalog(dest, "evolved_test")
    for module in modules:
        text = module.read_text()
        assert "promoted from run run" in text and "Source program:" in text
        assert any(c.name == module.stem for c in components)
    check = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(dest)!r}); "
                            + "; ".join(f"import {m.stem}" for m in modules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    missing = subprocess.run([sys.executable, "-m", "beam.cli", "promote", str(tmp_path)], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no run database" in missing.stderr
