"""TSP instances: the seeded generator, TSPLIB distances checked by hand, corrupt files rejected in one line."""
from __future__ import annotations

import math

import numpy as np
import pytest

from beam.problem import load_problem
from tsp_gls_helpers import TSP_GLS, load_tsp_module

instances = load_tsp_module("instances")
tsplib = load_tsp_module("tsplib")

TRIANGLE = """NAME : tri
TYPE : TSP
DIMENSION : 3
EDGE_WEIGHT_TYPE : {kind}
NODE_COORD_SECTION
1 0 0
2 3 0
3 3 4.4
EOF
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_generator_is_deterministic_and_uniform_in_the_unit_square():
    a, b = instances.uniform_coordinates(200, 5), instances.uniform_coordinates(200, 5)
    assert np.array_equal(a, b) and not np.array_equal(a, instances.uniform_coordinates(200, 6))
    assert a.min() >= 0 and a.max() < 1
    d = instances.euclidean(a[:2])
    assert d[0, 1] == pytest.approx(math.dist(a[0], a[1]))


def test_euc_2d_and_ceil_2d_by_hand(tmp_path):
    _, d = tsplib.read_tsp(write(tmp_path, "t.tsp", TRIANGLE.format(kind="EUC_2D")))
    # sides 3, 4.4 and sqrt(9 + 19.36) = 5.325..: nint gives 3, 4, 5
    assert d[0, 1] == 3 and d[1, 2] == 4 and d[0, 2] == 5
    _, d = tsplib.read_tsp(write(tmp_path, "c.tsp", TRIANGLE.format(kind="CEIL_2D")))
    assert d[1, 2] == 5 and d[0, 2] == 6


def test_att_by_hand(tmp_path):
    _, d = tsplib.read_tsp(write(tmp_path, "a.tsp", TRIANGLE.format(kind="ATT")))
    # r = sqrt(9 / 10) = 0.9487, nint(r) = 1 >= r, so the distance is 1
    assert d[0, 1] == 1


def test_geo_distance_of_one_degree(tmp_path):
    text = "NAME: g\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: GEO\nNODE_COORD_SECTION\n1 0.0 0.0\n2 1.0 0.0\n3 0.0 1.0\n"
    _, d = tsplib.read_tsp(write(tmp_path, "g.tsp", text))
    # one degree of arc on TSPLIB's sphere of radius 6378.388 km, truncated after adding 1
    assert d[0, 1] == math.trunc(6378.388 * math.pi / 180 + 1.0) == d[0, 2]


@pytest.mark.parametrize("fmt,numbers", [("FULL_MATRIX", "0 1 2\n1 0 3\n2 3 0"), ("UPPER_ROW", "1 2\n3"),
                                         ("LOWER_ROW", "1\n2 3"), ("UPPER_DIAG_ROW", "0 1 2 0 3 0"),
                                         ("LOWER_DIAG_ROW", "0\n1 0\n2 3 0")])
def test_explicit_formats_agree(tmp_path, fmt, numbers):
    text = (f"NAME: e\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: {fmt}\n"
            f"EDGE_WEIGHT_SECTION\n{numbers}\n")
    _, d = tsplib.read_tsp(write(tmp_path, "e.tsp", text))
    assert d.tolist() == [[0, 1, 2], [1, 0, 3], [2, 3, 0]]


def test_opt_tour_gives_the_reference(tmp_path):
    path = write(tmp_path, "sq.tsp", "NAME: sq\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EUC_2D\n"
                                     "NODE_COORD_SECTION\n1 0 0\n2 10 0\n3 10 10\n4 0 10\n")
    write(tmp_path, "sq.opt.tour", "NAME: sq.opt.tour\nTYPE: TOUR\nDIMENSION: 4\nTOUR_SECTION\n1\n2\n3\n4\n-1\n")
    data = instances.load_file(path)
    assert data.instances[0].reference == 40.0 and data.instances[0].cities == 4


@pytest.mark.parametrize("text,message", [
    ("NAME: x\nTYPE: TSP\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n", "DIMENSION"),
    ("NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n",
     "NODE_COORD_SECTION must have 3"),
    ("NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_3D\n", "not supported"),
    ("NAME: x\nTYPE: ATSP\nDIMENSION: 3\n", "only symmetric"),
    ("NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 a 1\n3 1 1\n",
     "could not be read"),
    ("NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\n"
     "EDGE_WEIGHT_SECTION\n1 2\n", "needs 3"),
    ("just some words\n", "unexpected line"),
])
def test_corrupt_files_raise_one_line_errors_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, "bad.tsp", text)
    with pytest.raises(instances.InstanceError) as info:
        instances.load_file(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_configured_splits_load_with_cached_references():
    problem = load_problem(TSP_GLS)
    train = instances.split_datasets(problem, "train")
    assert [d.instances[0].cities for d in train] == [50, 100]
    assert all(i.reference is not None and i.reference > 0 for d in train for i in d.instances)
