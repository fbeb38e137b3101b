"""The same small evolve on every executor gives the same programs and the same fitness values.

The problem is a copy of problems/eplb whose fitness and validity do not depend
on timing (speed_weight = 0, no too-slow rule) and whose skeletons allow
MAX_TIME = 30 s (the solvers are anytime: with 0.05 s their output depends on
how fast the machine is at that moment); the offline composer is seeded, so
every difference would come from the executor.
"""
from __future__ import annotations

import shutil

import pytest

from beam.evolve import EvolveOptions, evolve
from beam.problem import load_problem
from beam.store import RunStore
from reproducible import set_skeleton_max_time

EXECUTORS = {"local-warm": {"executor": "local", "sandbox": "warm"},
             "local-fresh": {"executor": "local", "sandbox": "fresh"},
             "ray": {"executor": "ray"}}


def untimed_copy(problem_root, folder):
    """``problem_root`` copied with every skeleton's time budget raised so that no deadline is reached."""
    root = folder / problem_root.name
    shutil.copytree(problem_root, root)
    set_skeleton_max_time(root, 30.0)
    return root


def run_contents(run_dir) -> dict:
    """What a run found: every program (source and lineage) and every evaluation's outcome."""
    with RunStore(run_dir) as store:
        programs = [(p["id"], p["source"], p["kind"], p["role"], p["generation"], p["parents"])
                    for p in store.programs()]
        evaluations = sorted((e["program_id"], e["split"], bool(e["valid"]), e["fitness"], e["error_kind"])
                             for e in store.evaluations())
    return {"programs": programs, "evaluations": evaluations}


@pytest.mark.slow
def test_local_warm_local_fresh_and_ray_agree(ray_instance, reproducible_eplb, tmp_path, sandbox_env):
    problem = load_problem(untimed_copy(reproducible_eplb, tmp_path))
    found = {}
    for label, settings in EXECUTORS.items():
        options = EvolveOptions(seed=3, generations=1, population=2, evaluations=6, **settings)
        result = evolve(problem, options, tmp_path / label, examples_dir=None)
        assert result.executor.startswith(settings["executor"])
        found[label] = run_contents(tmp_path / label)
    reference = found["local-warm"]
    assert len(reference["programs"]) >= 6 and any(valid for _, _, valid, _, _ in reference["evaluations"])
    assert any(split == "test" for _, split, _, _, _ in reference["evaluations"])
    for label in ("local-fresh", "ray"):
        assert found[label]["programs"] == reference["programs"], f"{label}: other programs than local-warm"
        assert found[label]["evaluations"] == reference["evaluations"], f"{label}: other results than local-warm"
