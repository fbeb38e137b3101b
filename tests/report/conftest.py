"""A small hand-made run database for the `beam report` tests, written with the engine's store API."""
from __future__ import annotations

from pathlib import Path

import pytest

from beam.store import RunStore


def program_source(smoothing: float, body: str = "return weight") -> str:
    return ("import time\n\n#Hyperparameter#\nMAX_TIME = 0.05\nSMOOTHING = " + repr(smoothing) +
            "\nROUNDS = 3  # int\n#Hyperparameter#\n\n\ndef rebalance_experts(weight):\n    " + body + "\n")


def result(fitness: float, balance: float, ms: float, ref_ms: float = 10.0) -> dict:
    """A valid EPLB-like result: two shapes whose reference balance is 0.6 and 0.8 (next window), 0.7 and 0.9 (same)."""
    reference = {"balancedness_gpu": 0.6, "ms_per_call": ref_ms}
    shapes = {"a": {"reference": {"balancedness_gpu": 0.6, "balancedness_gpu_same_window": 0.7}},
              "b": {"reference": {"balancedness_gpu": 0.8, "balancedness_gpu_same_window": 0.9}}}
    return {"valid": True, "fitness": fitness, "balancedness_gpu": balance, "ms_per_call": ms,
            "speedup_vs_reference": ref_ms / ms, "reference": reference, "shapes": shapes}


def invalid(kind: str) -> dict:
    return {"valid": False, "fitness": None, "error": f"{kind}: it broke", "error_kind": kind}


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """Generation 0: program 1 (initial fill), 2 (invalid) fixed by 3, 4 calibrates 1.
    Generation 1: 5 = crossover of (4, 3), invalid; 6 fixes 5 (invalid again); 7 calibrates 3."""
    folder = tmp_path / "run"
    folder.mkdir()
    with RunStore(folder) as store:
        store.set_run("options", {"problem": "eplb", "all": {"generator": "composer", "generations": 1,
                                                             "population": 2}})
        store.log_event("generation", {"generation": 0, "best_fitness": 0.0, "population": []})  # before the restart
        store.record_memory_event(0, "insert", "stale_entry")                                 # before the restart
        store.log_event("run_started", {"resume": True})
        add = store.add_program
        p1, _ = add(program_source(0.1), "realised", "fill_all", 0, meta={"education_of": "initial"})
        p2, _ = add(program_source(0.2, "raise ValueError"), "realised", "fill_all", 0,
                    meta={"education_of": "initial"})
        p3, _ = add(program_source(0.2, "return weight * 1"), "realised", "fix", 0, [p2],
                    meta={"education_of": "initial"})
        p4, _ = add(program_source(0.3), "calibrated", "calibration", 0, [p1], meta={"education_of": "initial"})
        p5, _ = add(program_source(0.3, "return None"), "realised", "fill_all", 1, [p4, p3],
                    meta={"education_of": "crossover"})
        p6, _ = add(program_source(0.3, "return None  # still"), "realised", "fix", 1, [p5],
                    meta={"education_of": "crossover"})
        p7, _ = add(program_source(0.25, "return weight * 1"), "calibrated", "calibration", 1, [p3],
                    meta={"education_of": "crossover"})
        assert [p1, p2, p3, p4, p5, p6, p7] == [1, 2, 3, 4, 5, 6, 7]
        store.record_evaluation(1, "validation", result(0.50, 0.60, 20.0))
        store.record_evaluation(2, "validation", invalid("runtime"))
        store.record_evaluation(3, "validation", result(0.70, 0.70, 40.0))
        store.record_evaluation(4, "validation", result(0.60, 0.65, 10.0))
        store.record_evaluation(5, "validation", invalid("bad_output"))
        store.record_evaluation(6, "validation", invalid("bad_output"))
        store.record_evaluation(7, "validation", result(0.80, 0.72, 30.0))
        store.record_evaluation(7, "test", result(0.79, 0.71, 31.0))
        store.save_population(0, [3, 4])
        store.save_population(1, [7, 3])
        store.log_event("generation", {"generation": 0, "best_fitness": 0.7, "best_program": 3, "population": [3, 4]})
        store.log_event("generation", {"generation": 1, "best_fitness": 0.8, "best_program": 7, "population": [7, 3]})
        store.log_event("education", {"generation": 1, "errors": ["fill_one func_1: no code block"]})
        store.log_event("generator_error", {"generation": 1, "operation": "mutation", "error": "timeout"})
        store.record_call("fill_all", "prompt a", "reply", "m1", prompt_tokens=100, completion_tokens=20, cost=0.5)
        store.record_call("fill_all", "prompt b", None, "m1", prompt_tokens=50, error="HTTP 500")
        store.record_call("fix", "prompt c", "reply", "m1", prompt_tokens=10, completion_tokens=5)
        store.record_memory_event(1, "insert", "mem_a", 3, 1.0, {"origin": "func_1"})
        store.record_memory_event(1, "insert", "mem_b", 4, 0.9, {"origin": "func_1"})
        store.record_memory_event(1, "discard", "func_1@1", 1, 0.2)
        store.record_memory_event(1, "rename", "scale_loads", 3, None, {"from": "mem_a"})
        store.record_memory_event(2, "replace", "mem_c", 7, 1.1, {"origin": "func_1", "replaced": "mem_b"})
        store.record_memory_event(2, "use", "scale_loads", None, 1.0)
        store.record_memory_event(3, "evict", "scale_loads", 3, 0.5)
        store.save_memory([{"name": "mem_c", "source": "def mem_c():\n    pass\n", "program_id": 7}])
        store.set_run("status", "finished")
    return folder
