"""Bad input through the CLI (a subprocess): exit 2, one line on stderr naming the file and the problem."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EPLB = ROOT / "problems" / "eplb"
REFERENCE = EPLB / "reference_solver.py"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "beam.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def one_line_error(done: subprocess.CompletedProcess, *needles: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("beam: error:"), done.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def workload_cases(folder: Path) -> list[tuple[Path, str]]:
    cases = []
    two_d = folder / "two_d.npz"
    np.savez(two_d, load=np.ones((4, 256), dtype=np.int64))
    cases.append((two_d, "two_d.npz"))
    no_key = folder / "no_key.npz"
    np.savez(no_key, other=np.ones((3, 4, 256), dtype=np.int64))
    cases.append((no_key, "no_key.npz"))
    negative = folder / "negative.npz"
    np.savez(negative, load=-np.ones((3, 4, 256), dtype=np.int64))
    cases.append((negative, "negative.npz"))
    one_window = folder / "one_window.npz"
    np.savez(one_window, load=np.ones((1, 4, 256), dtype=np.int64))
    cases.append((one_window, "one_window.npz"))
    (folder / "garbage.json").write_bytes(b"{\"logical_count\": [[1, 2], oops")
    cases.append((folder / "garbage.json", "garbage.json"))
    (folder / "garbage.pt").write_bytes(b"\x80\x04 definitely not a torch file")
    cases.append((folder / "garbage.pt", "garbage.pt"))
    (folder / "trace.csv").write_text("1,2,3\n")
    cases.append((folder / "trace.csv", "trace.csv"))
    cases.append((folder / "missing.npz", "missing.npz"))
    return cases


def test_bad_workload_files(tmp_path):
    for path, name in workload_cases(tmp_path):
        one_line_error(cli("eval", str(EPLB), str(REFERENCE), "--workloads", str(path)), name)


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.replace("[problem]", "[problm]"), "[problem]"),
    (lambda t: t.replace('direction = "maximize"', 'direction = "upwards"'), "direction"),
    (lambda t: t.replace('entry = "rebalance_experts"', "entry = 3"), "entry"),
    (lambda t: t + "\n[[shapes]\n", "TOML"),
])
def test_malformed_problem_toml(tmp_path, edit, needle):
    root = tmp_path / "eplb"
    shutil.copytree(EPLB, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = root / "problem.toml"
    toml.write_text(edit(toml.read_text()))
    one_line_error(cli("eval", str(root), str(REFERENCE)), "problem.toml", needle)


def test_skeleton_without_markers(tmp_path):
    root = tmp_path / "eplb"
    shutil.copytree(EPLB, root, ignore=shutil.ignore_patterns("__pycache__"))
    skeleton = sorted((root / "skeletons").glob("*.py"))[0]
    skeleton.write_text(skeleton.read_text().replace("#Hyperparameter#", "# hyper"))
    done = cli("evolve", str(root), "--evaluations", "2", "--generations", "1", "--population", "2",
               "--run-dir", str(tmp_path / "run"), "--no-example")
    one_line_error(done, skeleton.name)


def test_skeleton_without_entry_function(tmp_path):
    root = tmp_path / "eplb"
    shutil.copytree(EPLB, root, ignore=shutil.ignore_patterns("__pycache__"))
    skeleton = sorted((root / "skeletons").glob("*.py"))[-1]
    skeleton.write_text(skeleton.read_text().replace("def rebalance_experts(", "def rebalance_everything("))
    done = cli("evolve", str(root), "--evaluations", "2", "--generations", "1", "--population", "2",
               "--run-dir", str(tmp_path / "run"), "--no-example")
    line = one_line_error(done, skeleton.name, "rebalance_experts")
    assert not (tmp_path / "run").exists(), line  # refused before a run folder is made
