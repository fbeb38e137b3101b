"""RB generator and graph-file loaders of problems/mis."""
from __future__ import annotations

import numpy as np
import pytest

from mis_helpers import load_mis_module

instances = load_mis_module("instances")


@pytest.mark.parametrize("preset", ["RB-200-300", "RB-800-1200"])
def test_rb_graph_is_deterministic_and_has_the_rb_structure(preset):
    g = instances.rb_graph("g", 7, preset)
    again = instances.rb_graph("g", 7, preset)
    other = instances.rb_graph("g", 8, preset)
    assert g.fingerprint() == again.fingerprint() != other.fingerprint()
    n, k = g.info["n"], g.info["k"]
    lo, hi = instances.RB_PRESETS[preset]["vertices"]
    assert g.num_nodes == n * k and lo <= g.num_nodes <= hi
    instances.check_csr(g.indptr, g.indices)
    # every clique is complete: vertex v is adjacent to the k - 1 others of its block
    for v in range(0, g.num_nodes, max(1, g.num_nodes // 17)):
        block = set(range(v // k * k, v // k * k + k)) - {v}
        assert block <= set(g.indices[g.indptr[v]:g.indptr[v + 1]].tolist())
    assert g.num_edges > n * k * (k - 1) // 2   # plus edges between cliques


def test_csr_from_edges_merges_duplicates_and_rejects_loops():
    indptr, indices = instances.csr_from_edges(4, np.array([[0, 1], [1, 0], [0, 1], [2, 3]]))
    assert indptr.tolist() == [0, 1, 2, 3, 4] and indices.tolist() == [1, 0, 3, 2]
    with pytest.raises(instances.InstanceError, match="self-loop at vertex 2"):
        instances.csr_from_edges(3, np.array([[2, 2]]))


def test_metis_round_trip_and_weighted_metis(tmp_path):
    g = instances.rb_graph("g", 3)
    path = tmp_path / "g.graph"
    instances.write_metis(g, path)
    back = instances.load_file(path)
    assert np.array_equal(back.indptr, g.indptr) and np.array_equal(back.indices, g.indices)
    # triangle 1-2-3 with node weights and edge weights (fmt 11): "w  nbr ew  nbr ew"
    weighted = tmp_path / "w.graph"
    weighted.write_text("% comment\n3 3 11\n5 2 1 3 1\n5 1 1 3 1\n5 1 1 2 1\n")
    tri = instances.load_file(weighted)
    assert tri.indptr.tolist() == [0, 2, 4, 6] and tri.indices.tolist() == [1, 2, 0, 2, 0, 1]


def test_dimacs_and_edge_list(tmp_path):
    dimacs = tmp_path / "g.col"
    dimacs.write_text("c a path 1-2-3 and an isolated vertex 4\np edge 4 2\ne 1 2\ne 2 3\n")
    g = instances.load_file(dimacs)
    assert g.num_nodes == 4 and g.indptr.tolist() == [0, 1, 3, 4, 4] and g.indices.tolist() == [1, 0, 2, 1]
    edges = tmp_path / "g.txt"
    edges.write_text("# 0-based\n0 1\n1 2\n2 0\n")
    tri = instances.load_file(edges)
    assert tri.num_nodes == 3 and tri.num_edges == 3


@pytest.mark.parametrize("name, text, message", [
    ("short.graph", "3 2\n2\n1 3\n", "announces 3 vertices, found 2"),
    ("range.graph", "2 1\n2\n3\n", "outside 1..2"),
    ("asym.graph", "3 1\n2\n\n1\n", "announces 1 edges|not symmetric"),
    ("count.col", "p edge 3 2\ne 1 2\n", "announces 2 edges, found 1"),
    ("noline.col", "e 1 2\n", "edge before"),
    ("letters.txt", "0 1\na b\n", "not an edge list"),
    ("loop.txt", "0 1\n1 1\n", "self-loop at vertex 1"),
])
def test_corrupt_files_give_one_line_errors_naming_the_file(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(instances.InstanceError, match=message) as info:
        instances.load_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_bad_dataset_spec(tmp_path):
    with pytest.raises(instances.InstanceError, match="no such graph file"):
        instances.load_file(tmp_path / "nope.graph")
    with pytest.raises(instances.InstanceError, match="preset one of"):
        instances.generated({"name": "x", "preset": "RB-1-2", "seed": 1, "time_limit_s": 1.0})
