"""problem.toml's optional [report] table: which per-group results tables show."""
from __future__ import annotations

import pytest

from beam.example import _table
from beam.problem import ProblemError, load_problem

HEAD = '[problem]\nname = "toy"\nentry = "solve"\ndirection = "maximize"\n'


def toy(tmp_path, extra: str):
    (tmp_path / "problem.toml").write_text(HEAD + extra)
    return load_problem(tmp_path)


def test_report_absent_means_the_eplb_layout(tmp_path):
    assert toy(tmp_path, "").report() is None


def test_report_table_shows_the_listed_metrics_per_group(tmp_path):
    report = toy(tmp_path, '[report]\ngroups = "datasets"\nmetrics = ["excess_percent"]\n').report()
    assert report == {"groups": "datasets", "metrics": ["excess_percent"]}
    result = {"datasets": {"OR3": {"fitness": -4.0, "excess_percent": 4.0, "ignored": 1.0,
                                   "reference": {"excess_percent": 5.37}}}}
    lines = _table(result, report).splitlines()
    assert lines[0] == "| dataset | metric | evolved | reference |"
    assert lines[2:] == ["| OR3 | fitness | -4.0000 |  |", "| OR3 | excess_percent | 4.0000 | 5.3700 |"]


def test_malformed_report_names_the_file(tmp_path):
    with pytest.raises(ProblemError, match="problem.toml: \\[report\\] needs"):
        toy(tmp_path, '[report]\nmetrics = "excess_percent"\n').report()
