"""The notebook extractor reads dict literals without executing anything."""
from __future__ import annotations

import json

from beam.problem import import_by_path
from binpack_helpers import BINPACK

extract = import_by_path(BINPACK / "data" / "extract_funsearch.py", "beam_problem_binpack_extract")


def notebook(tmp_path, source: str):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": source.splitlines(True)}]}))
    return path


def test_extracts_both_sets_without_running_code(tmp_path):
    path = notebook(tmp_path, (
        "import os\nos.remove('must-not-run')\ndatasets = {}\n"
        "datasets['OR3'] = {'a': {'capacity': 150, 'num_items': 2, 'items': [20, 30]}}\n"
        "datasets['Weibull 5k'] = {'t': {'capacity': 100, 'num_items': 1, 'items': [42]}}\n"))
    assert extract.main([str(path), "--out", str(tmp_path)]) == 0
    or3 = json.loads((tmp_path / "funsearch_or3.json").read_text())
    assert or3["capacity"] == 150 and or3["instances"] == {"a": [20, 30]} and "CC-BY" in or3["source"]


def test_missing_set_is_a_clear_error(tmp_path, capsys):
    path = notebook(tmp_path, "datasets = {}\ndatasets['OR3'] = {'a': {'capacity': 1, 'num_items': 1, 'items': [1]}}\n")
    assert extract.main([str(path), "--out", str(tmp_path)]) == 2
    assert "Weibull 5k" in capsys.readouterr().err
