"""benchmarks/ablation.py: the table's figures from a hand-made run database, and the random-search baseline."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from beam.problem import import_by_path, load_problem
from beam.program import Program
from beam.store import RunStore
from reproducible import reproducible_copy as small_problem
from test_evolve import ROOT

ablation = import_by_path(ROOT / "benchmarks" / "ablation.py", "beam_test_ablation")


def test_summary_reads_best_metrics_and_evaluations_to_reach_the_reference(tmp_path):
    with RunStore(tmp_path) as store:
        for index, fitness in enumerate([0.5, None, 0.72, 0.9]):
            pid, _ = store.add_program(f"x = {index}\n", "realised", "initial", 0)
            store.record_evaluation(pid, "validation", {"valid": fitness is not None, "fitness": fitness,
                                                        "ms_per_call": 10.0 + index})
    summary = ablation.summarise(tmp_path, ("ms_per_call",), target=0.7)
    assert summary == {"evaluations": 4, "fitness": 0.9, "ms_per_call": 13.0, "reached": 3,
                       "trajectory": [0.5, None, 0.72, 0.9]}
    assert ablation.summarise(tmp_path, (), target=0.95)["reached"] is None
    # the stricter target is reached later on the same trajectory, never where it is above every fitness
    assert ablation.evaluations_to_reach(summary["trajectory"], 0.8) == 4
    assert ablation.evaluations_to_reach(summary["trajectory"], 0.91) is None
    assert ablation.evaluations_to_reach(summary["trajectory"], None) is None
    assert ablation.mean_std([0.5, 0.7], 4) == "0.6000 ± 0.1414"
    assert ablation.mean_std([0.5, None], 2) == "0.50 ± 0.00 (1 none)"
    assert ablation.reached_text([3, None]) == "3, never"


@pytest.mark.slow
def test_random_search_spends_its_budget_on_distinct_composed_programs(tmp_path):
    problem = load_problem(small_problem(tmp_path))
    run_dir = tmp_path / "random"
    assert asyncio.run(ablation.random_search(problem, run_dir, seed=1, evaluations=3)) == 3
    with RunStore(run_dir) as store:
        rows = store.evaluations(split="validation")
        assert len(rows) == 3 and any(r["valid"] for r in rows)
        programs = store.programs()
        assert {p["role"] for p in programs} == {"random_search"}
        assert all(not Program.parse(p["source"]).unrealised() for p in programs)  # fill_all completed each
        assert store.get_run("summary") == {"evaluations": 3}
    # a second call is served from the store: nothing new is evaluated
    assert asyncio.run(ablation.random_search(problem, run_dir, seed=1, evaluations=3)) == 3
    with RunStore(run_dir) as store:
        assert len(store.evaluations(split="validation")) == 3
