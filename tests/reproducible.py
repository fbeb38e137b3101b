"""A copy of problems/eplb whose runs are reproducible on a loaded machine (shared by several test folders)."""
from __future__ import annotations

import shutil
from pathlib import Path

from beam.program import MAX_TIME, Program

ROOT = Path(__file__).resolve().parents[1]
EPLB = ROOT / "problems" / "eplb"
# tiny workloads; fitness and validity independent of timing
REPRODUCIBLE_EPLB = (("windows = 9", "windows = 3"), ("layers = 58", "layers = 4"),
                     ("extra_timing_calls = 4", "extra_timing_calls = 0"), ("warmup_calls = 2", "warmup_calls = 1"),
                     ("speed_weight = 0.005", "speed_weight = 0.0"), ("max_ms_per_call = 250.0", "max_ms_per_call = 0.0"))


SKELETON_MAX_TIME = 1.0   # seconds: far above a call on 4 layers, below the 5 s call timeout


def reproducible_copy(folder: Path) -> Path:
    """Copy problems/eplb into ``folder/eplb`` with tiny workloads, speed excluded from fitness, no too-slow rule,
    and skeletons whose time limit (MAX_TIME) no call reaches, so deadline-bound solvers give the same plans on
    a loaded machine."""
    root = folder / "eplb"
    shutil.copytree(EPLB, root, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (root / "problem.toml").read_text()
    for old, new in REPRODUCIBLE_EPLB:
        assert old in toml, f"problems/eplb/problem.toml no longer has {old!r}"
        toml = toml.replace(old, new)
    (root / "problem.toml").write_text(toml)
    set_skeleton_max_time(root, SKELETON_MAX_TIME)
    return root


def set_skeleton_max_time(problem_root: Path, seconds: float) -> None:
    """Rewrite MAX_TIME in every skeleton of ``problem_root`` (through beam.program, i.e. libcst)."""
    for skeleton in sorted((problem_root / "skeletons").glob("*.py")):
        program = Program.parse(skeleton.read_text()).with_hyperparameters({MAX_TIME: seconds}, allow_max_time=True)
        skeleton.write_text(program.source)
