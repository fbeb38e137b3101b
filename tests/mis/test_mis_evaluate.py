"""The MIS evaluator with the real sandbox, on hand-checked graphs (a 5-cycle and a path of 4, MIS 2 each)."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from beam.problem import load_problem
from mis_helpers import MIS, csr, cycle, load_mis_module

evaluate = load_mis_module("evaluate")
instances = load_mis_module("instances")
reference = load_mis_module("reference")
PROBLEM = load_problem(MIS)


def tiny_datasets(limit: float = 0.5) -> list:
    c5 = instances.Graph("tiny/c5", *cycle(5))
    p4 = instances.Graph("tiny/p4", *csr(4, [(0, 1), (1, 2), (2, 3)]))
    return [instances.Dataset("tiny", (c5, p4), limit)]


@pytest.fixture(autouse=True)
def known_references(tmp_path, monkeypatch):
    """Reference sizes of the tiny graphs worked out by hand (2 and 2), in a cache of their own."""
    cache = tmp_path / "reference.json"
    entries = {g.name: {"fingerprint": g.fingerprint(), "size": 2, "solver": "by hand"}
               for g in tiny_datasets()[0].graphs}
    cache.write_text(json.dumps({"instances": entries}))
    monkeypatch.setattr(reference, "cache_path", lambda problem: cache)


def run(tmp_path, body: str, limit: float = 0.5) -> dict:
    solver = tmp_path / "solver.py"
    solver.write_text("import time\nimport numpy as np\n\n" + textwrap.dedent(body))
    return evaluate.evaluate(PROBLEM, solver, datasets=tiny_datasets(limit))


def test_checked_set_accepts_an_independent_set_and_names_what_is_wrong():
    indptr, indices = cycle(5)
    assert evaluate.checked_set(np.array([0, 2]), indptr, indices).tolist() == [0, 2]
    assert evaluate.checked_set(np.array([], dtype=np.int64), indptr, indices).size == 0
    cases = [(np.array([0, 1]), "0 and 1 are both in the set"), (np.array([0, 5]), "vertex id 5 is outside"),
             (np.array([2, 2]), "repeats"), (np.array([0.0, 2.0]), "must be integers"),
             (np.array([[0, 2]]), "1-D"), ([0, 2], "must return an array")]
    for output, message in cases:
        with pytest.raises(evaluate.InvalidSet, match=message):
            evaluate.checked_set(output, indptr, indices)


def test_gap_is_counted_by_the_evaluator(tmp_path):
    best = run(tmp_path, """
        def solve_mis(indptr, indices, time_limit_s, seed):
            return np.array([0, 2])          # independent in both the 5-cycle and the path 0-1-2-3
        """)
    assert best["valid"], best["error"]
    tiny = best["datasets"]["tiny"]
    assert tiny["sizes"] == [2, 2] and tiny["gap_percent"] == 0.0 and best["fitness"] == 0.0
    half = run(tmp_path, """
        def solve_mis(indptr, indices, time_limit_s, seed):
            return np.array([seed], dtype=np.int32)   # one vertex: half of the optimum
        """)
    assert half["valid"] and half["gap_percent"] == pytest.approx(50.0) and half["fitness"] == pytest.approx(-50.0)


def test_an_edge_inside_the_set_makes_the_candidate_invalid(tmp_path):
    result = run(tmp_path, """
        def solve_mis(indptr, indices, time_limit_s, seed):
            return np.array([0, 1])
        """)
    assert not result["valid"] and result["error_kind"] == "invalid"
    assert "tiny/c5" in result["error"] and "0 and 1" in result["error"]


def test_a_call_over_its_time_budget_is_too_slow(tmp_path):
    result = run(tmp_path, """
        def solve_mis(indptr, indices, time_limit_s, seed):
            time.sleep(time_limit_s * 1.25 + 1.0)
            return np.array([0, 2])
        """, limit=0.2)
    assert not result["valid"] and result["error_kind"] == "too_slow"


def test_the_candidate_gets_only_the_graph_budget_and_seed(tmp_path):
    cache = MIS / "data" / "reference.json"
    result = run(tmp_path, f"""
        def solve_mis(indptr, indices, time_limit_s, seed):
            assert indptr.dtype == np.int64 and indices.dtype == np.int64 and indptr[-1] == len(indices)
            assert time_limit_s in (0.5, {evaluate.WARM_UP_SECONDS}) and isinstance(seed, int)   # graphs, warm-up
            try:
                open({str(cache)!r}).read()
            except OSError:
                return np.array([1, 3])
            return np.array([0, 1])          # could read the answers: caught as invalid
        """)
    assert result["valid"], result["error"]


def test_reference_cache_covers_every_split_graph_and_splits_are_disjoint():
    record = reference.load_cache(MIS / "data" / "reference.json")   # the committed cache, not the fixture's
    seen = {}
    for split in ("train", "validation", "test"):
        for data in instances.split_datasets(PROBLEM, split):
            assert data.time_limit_s > 0 and data.graphs
            for g in data.graphs:
                assert g.fingerprint() not in seen, (g.name, seen.get(g.fingerprint()))
                seen[g.fingerprint()] = g.name
                entry = reference.lookup(record, g)
                assert entry is not None, f"{g.name} missing or stale: run python problems/mis/reference.py"
                assert 0 < entry["size"] <= g.info["n"]        # at most one vertex per clique


def test_corrupt_reference_cache_is_a_clear_error(tmp_path):
    bad = tmp_path / "reference.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a reference cache"):
        reference.load_cache(bad)


def test_a_graph_file_becomes_a_one_graph_dataset(tmp_path):
    path = tmp_path / "square.col"
    path.write_text("p edge 4 4\ne 1 2\ne 2 3\ne 3 4\ne 4 1\n")
    (data,) = evaluate.load_datasets(PROBLEM, workload_file=path)
    assert data.name == "square" and len(data.graphs) == 1 and data.graphs[0].num_edges == 4
    assert data.time_limit_s == PROBLEM.section("reference")["default_time_s"]
    with pytest.raises(ValueError, match="unknown split"):
        evaluate.load_datasets(PROBLEM, "holdout")
