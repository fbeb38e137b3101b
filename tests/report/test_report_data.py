"""`beam report` data extraction on a run database written with the engine's own store API (real SQLite).

The run (``run_dir`` in conftest.py) is small and built by hand, so every expected number below is
worked out from it by hand.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from beam.report import ReportError, write_report
from beam.report import data as d

ROOT = Path(__file__).resolve().parents[2]


def test_errors_for_missing_empty_and_corrupt_run_folders(tmp_path):
    with pytest.raises(ReportError, match="no such run folder"):
        d.load_run(tmp_path / "nope")
    with pytest.raises(ReportError, match="no run database"):
        d.load_run(tmp_path)
    assert not (tmp_path / "run.db").exists()  # reading a folder never creates a database there
    (tmp_path / "run.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ReportError, match="run.db"):
        d.load_run(tmp_path)


def test_cli_gives_one_line_error_and_exit_2(tmp_path):
    (tmp_path / "run.db").write_bytes(b"garbage" * 200)
    for folder in (tmp_path, tmp_path / "missing"):
        done = subprocess.run([sys.executable, "-m", "beam.cli", "report", str(folder)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert done.stderr.startswith("beam: error:") and done.stderr.count("\n") == 1, done.stderr
        assert str(folder) in done.stderr


def test_only_rows_after_the_last_restart_are_used(run_dir):
    run = d.load_run(run_dir)
    assert [g["generation"] for g in d.generation_log(run)] == [0, 1]
    assert d.generation_log(run)[0]["best_fitness"] == 0.7
    assert "stale_entry" not in {e["function_name"] for e in run.memory_events}


def test_fitness_and_metric_series_over_evaluations(run_dir):
    run = d.load_run(run_dir)
    fitness = d.series_over_evaluations(run, "fitness")
    # validation evaluations in order: 0.5, invalid, 0.7, 0.6, invalid, invalid, 0.8
    assert fitness["x"] == [1, 3, 4, 7]
    assert fitness["best"] == [0.5, 0.7, 0.7, 0.8]
    assert fitness["median"] == pytest.approx([0.5, 0.6, 0.6, 0.65])
    ms = d.series_over_evaluations(run, "ms_per_call")  # lower is better: 20, 40, 10, 30
    assert ms["best"] == [20.0, 20.0, 10.0, 10.0]
    assert d.lower_is_better("ms_per_call") and not d.lower_is_better("balancedness_gpu")
    assert d.metric_names(run)[:3] == ["fitness", "balancedness_gpu", "ms_per_call"]
    assert "speedup_vs_reference" in d.metric_names(run)


def test_series_over_generations_and_reference(run_dir):
    run = d.load_run(run_dir)
    series = d.series_over_generations(run, "fitness")
    # generation 0: valid 0.5, 0.7, 0.6; generation 1: valid 0.8
    assert series == {"x": [0, 1], "best": [0.7, 0.8], "median": [0.6, 0.8], "best_so_far": [0.7, 0.8]}
    # reference fitness by problems/eplb's formula (0.5 next + 0.5 same window; speedup 1 adds nothing):
    # shape a 0.65, shape b 0.85, mean 0.75
    assert run.reference_fitness == pytest.approx(0.75)
    assert d.reference_value(run, "ms_per_call") == 10.0
    assert d.reference_value(run, "speedup_vs_reference") == 1.0


def test_pareto_front():
    points = [(10.0, 0.6, 1), (20.0, 0.7, 2), (15.0, 0.6, 3), (30.0, 0.7, 4), (5.0, 0.5, 5), (40.0, 0.9, 6)]
    # 3 is slower than 1 at equal balance; 4 is slower than 2 at equal balance
    assert d.pareto_front(points) == [(5.0, 0.5, 5), (10.0, 0.6, 1), (20.0, 0.7, 2), (40.0, 0.9, 6)]
    run_points = [(10.0, 0.65, 4), (20.0, 0.6, 1), (30.0, 0.72, 7), (40.0, 0.7, 3)]
    assert d.pareto_front(run_points) == [(10.0, 0.65, 4), (30.0, 0.72, 7)]


def test_best_program_lineage_diff_and_hyperparameters(run_dir):
    run = d.load_run(run_dir)
    best = d.best_program(run)
    assert best["id"] == 7 and best["calibrated"] and best["test"]["fitness"] == 0.79
    assert best["hyperparameters"] == [("MAX_TIME", 0.05, 0.05), ("SMOOTHING", 0.2, 0.25), ("ROUNDS", 3, 3)]
    label, diff = best["diffs"][0]
    assert "program 3" in label
    assert ("del", "-SMOOTHING = 0.2") in diff and ("add", "+SMOOTHING = 0.25") in diff
    assert [line for kind, line in diff if kind in ("add", "del")] == ["-SMOOTHING = 0.2", "+SMOOTHING = 0.25"]
    # 7 calibrates 3, a fix of the initial program 2: no GA parent, so no second diff
    assert len(best["diffs"]) == 1 and d.structural_parent(run, 7) is None
    assert d.structural_parent(run, 6) == 4  # 6 fixes 5, the crossover of (4, 3)
    graph = d.lineage_graph(run, 7)
    assert set(graph.nodes) == {7, 3, 2} and set(graph.edges) == {(2, 3), (3, 7)}
    assert [graph.nodes[n]["layer"] for n in (2, 3, 7)] == [0, 1, 2]
    assert graph.nodes[7]["operation"] == "calibration" and graph.nodes[2]["operation"] == "initial fill"
    crossover = d.lineage_graph(run, 6)
    assert set(crossover.nodes) == {6, 5, 4, 3, 2, 1}
    assert crossover.nodes[5]["operation"] == "crossover + fill" and crossover.nodes[6]["fitness"] is None
    assert crossover.nodes[5]["layer"] == 2 and crossover.nodes[6]["layer"] == 3
    assert set(d.lineage_layout(crossover)) == set(crossover.nodes)


def test_memory_timeline_names_and_function_events(run_dir):
    run = d.load_run(run_dir)
    timeline = d.memory_timeline(run)
    # generation 1: two inserts; 2: a replace (size unchanged) and a use; 3: an eviction
    assert timeline["x"] == [1, 2, 3] and timeline["size"] == [2, 2, 1]
    assert timeline["counts"]["insert"] == [2, 0, 0] and timeline["counts"]["evict"] == [0, 0, 1]
    assert d.memory_names(run) == {"mem_a": "scale_loads"}
    events = [(e["generation"], e["event"], e["name"]) for e in d.memory_function_events(run)]
    assert events == [(1, "insert", "scale_loads"), (1, "insert", "mem_b"), (2, "replace", "mem_c"),
                      (2, "replaced", "mem_b"), (2, "use", "scale_loads"), (3, "evict", "scale_loads")]


def test_generator_usage_fix_loop_and_errors(run_dir):
    run = d.load_run(run_dir)
    usage = d.generator_usage(run)
    assert [(r["operation"], r["calls"], r["prompt_tokens"], r["completion_tokens"], r["errors"]) for r in usage] \
        == [("fill_all", 2, 150, 20, 1), ("fix", 1, 10, 5, 0)]
    assert usage[0]["cost"] == 0.5
    assert d.fix_loop(run) == {"attempts": 2, "valid": 1, "rate": 0.5}  # 3 valid, 6 invalid
    assert [(e["operation"], e["error"]) for e in d.generator_errors(run)] == [
        ("education", "fill_one func_1: no code block"), ("mutation", "timeout")]
    assert [(r["kind"], r["count"], r["program_id"]) for r in d.evaluation_errors(run)] == [
        ("bad_output", 2, 5), ("runtime", 1, 2)]


def test_written_page_is_self_contained_and_links_lineage_to_code(run_dir, tmp_path):
    out = write_report(run_dir, tmp_path / "page.html")
    page = out.read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') >= 6
    assert "<script src" not in page and "<link" not in page  # nothing fetched: opens offline
    for node in (2, 3, 7):
        assert f'id="program-{node}"' in page and f'href="#program-{node}"' in page
    assert "SMOOTHING = 0.25" in page and "beam-live-stamp" not in page
    assert write_report(run_dir) == run_dir / "report.html"
