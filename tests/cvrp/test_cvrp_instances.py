"""CVRP instances: the seeded generator, the configured splits, VRPLIB loading and its errors."""
from __future__ import annotations

import numpy as np
import pytest

from beam.problem import load_problem
from cvrp_helpers import CVRP, load_cvrp_module

instances = load_cvrp_module("instances")


def test_generator_is_deterministic_and_follows_the_distribution():
    a, b = instances.random_instance(500, 7), instances.random_instance(500, 7)
    assert np.array_equal(a.coords, b.coords) and np.array_equal(a.demands, b.demands)
    assert not np.array_equal(a.coords, instances.random_instance(500, 8).coords)
    assert a.capacity == 100 and instances.random_instance(200, 1).capacity == 80
    assert (a.coords >= 0).all() and (a.coords < 1).all()
    assert a.demands[0] == 0 and set(np.unique(a.demands[1:])) == set(range(1, 10))


def test_unknown_size_needs_a_capacity():
    with pytest.raises(instances.InstanceError, match="no default capacity"):
        instances.random_instance(123, 0)
    assert instances.random_instance(123, 0, capacity=60).capacity == 60


def test_configured_splits_differ_and_have_time_limits():
    problem = load_problem(CVRP)
    seen = set()
    for split in ("train", "validation", "test"):
        for data in instances.split_datasets(problem, split):
            assert data.time_limit_s > 0
            for inst in data.instances:
                assert inst.fingerprint() not in seen
                seen.add(inst.fingerprint())
    test = {d.name: d for d in instances.split_datasets(problem, "test")}
    assert [test[k].time_limit_s for k in ("CVRP-100", "CVRP-200", "CVRP-500")] == [20, 60, 300]


VRP = "\n".join([
    "NAME : small", "COMMENT : written for the test", "TYPE : CVRP", "DIMENSION : 4", "EDGE_WEIGHT_TYPE : EUC_2D",
    "CAPACITY : 10", "NODE_COORD_SECTION", "1 5 5", "2 0 0", "3 10 0", "4 3 4", "DEMAND_SECTION", "1 2", "2 3",
    "3 0", "4 4", "DEPOT_SECTION", "3", "-1", "EOF", ""])


def test_vrplib_file_is_loaded_with_the_depot_first(tmp_path):
    path = tmp_path / "small.vrp"
    path.write_text(VRP)
    inst = instances.load_vrplib(path)
    assert inst.name == "small" and inst.capacity == 10 and inst.customers == 3
    assert inst.coords[0].tolist() == [10, 0]               # node 3 of the file is the depot
    assert inst.demands.tolist() == [0, 2, 3, 4]


@pytest.mark.parametrize("text,message", [
    ("this is not a vrplib file\n", "small.vrp"),
    (VRP.replace("CAPACITY : 10\n", ""), "CAPACITY"),
    (VRP.replace("4 4\nDEPOT", "4 40\nDEPOT"), "capacity"),
    (VRP.replace("4 3 4\n", "4 3\n"), "small.vrp"),
])
def test_bad_vrplib_files_give_one_clear_error(tmp_path, text, message):
    path = tmp_path / "small.vrp"
    path.write_text(text)
    with pytest.raises(instances.InstanceError, match=message) as err:
        instances.load_vrplib(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_file():
    with pytest.raises(instances.InstanceError, match="no such instance file"):
        instances.load_vrplib(CVRP / "nope.vrp")
