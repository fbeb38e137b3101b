"""beam.problem.import_by_path: copies of a problem folder in one process never share sibling modules."""
from __future__ import annotations

import shutil
from pathlib import Path

from beam.problem import import_by_path, load_problem

ROOT = Path(__file__).resolve().parents[2]


def test_the_same_file_is_imported_once_and_a_copy_gets_its_own_module(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "sibling.py").write_text("from pathlib import Path\nHERE = Path(__file__).parent\n")
    first = import_by_path(tmp_path / "a" / "sibling.py", "beam_test_sibling")
    again = import_by_path(tmp_path / "a" / "sibling.py", "beam_test_sibling")
    other = import_by_path(tmp_path / "b" / "sibling.py", "beam_test_sibling")
    assert first is again
    assert other is not first and other.HERE == tmp_path / "b" and first.HERE == tmp_path / "a"


def test_a_copied_problem_reads_its_own_data_not_the_originals(tmp_path):
    original = load_problem(ROOT / "problems" / "tsp_gls")
    original.evaluator()                                       # the original's modules are loaded first
    copy = tmp_path / "tsp_gls"
    shutil.copytree(ROOT / "problems" / "tsp_gls", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "data" / "references.json").write_text("{}")       # the copy knows no reference
    evaluator = load_problem(copy).evaluator()
    assert Path(evaluator.instances.__file__).parent == copy
    assert evaluator.instances.load_references() == {} != original.evaluator().instances.load_references()
