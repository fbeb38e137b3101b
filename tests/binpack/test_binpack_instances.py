"""Bin-packing instances: seeded generators, the L1 bound and excess by hand, loaders and their errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from beam.problem import load_problem
from binpack_helpers import BINPACK, load_binpack_module

inst = load_binpack_module("instances")


def test_generators_are_deterministic_per_seed_and_differ_between_seeds():
    assert np.array_equal(inst.weibull_items(1000, 7), inst.weibull_items(1000, 7))
    assert not np.array_equal(inst.weibull_items(1000, 7), inst.weibull_items(1000, 8))
    assert np.array_equal(inst.uniform_items(500, 3), inst.uniform_items(500, 3))
    spec = {"name": "w", "kind": "weibull", "items": 50, "instances": 3, "seed": 10}
    first, again = inst.generated(spec), inst.generated(spec)
    assert [i.items.tolist() for i in first.instances] == [i.items.tolist() for i in again.instances]
    # instance k is seeded seed + k
    assert np.array_equal(first.instances[2].items, inst.weibull_items(50, 12))


def test_generated_sizes_follow_the_documented_distributions():
    w = inst.weibull_items(200_000, 0)
    assert w.min() >= 1 and w.max() <= 100 and np.all(w == np.floor(w))
    # floor(45 * Weibull(3)): mean 45 * Gamma(1 + 1/3) - 0.5 = 39.68 (flooring removes 0.5 on average)
    assert abs(w.mean() - (45 * 0.8929795 - 0.5)) < 0.1
    u = inst.uniform_items(200_000, 0)
    assert u.min() == 20 and u.max() == 100 and abs(u.mean() - 60) < 0.1


def test_l1_bound_and_excess_by_hand():
    assert inst.l1_bound([60, 50, 40], 100) == 2          # 150 / 100 -> 2
    assert inst.l1_bound([50, 50], 100) == 1              # exactly full: no rounding up
    assert inst.l1_bound([0.3, 0.3, 0.3, 0.2], 1.0) == 2  # 1.1 -> 2
    # mean bins 11, mean bound 10 -> 10 %
    assert inst.excess_percent([10, 12], [9, 11]) == pytest.approx(10.0)


def test_shipped_funsearch_sets_have_the_published_shape_and_bounds():
    or3 = inst.load_json(BINPACK / "data" / "funsearch_or3.json")
    weibull = inst.load_json(BINPACK / "data" / "funsearch_weibull_5k.json")
    assert len(or3.instances) == 20 and {i.items.size for i in or3.instances} == {500}
    assert {i.capacity for i in or3.instances} == {150.0}
    assert len(weibull.instances) == 5 and {i.items.size for i in weibull.instances} == {5000}
    # the notebook prints these lower bounds on the optimum
    assert or3.mean_l1 == pytest.approx(201.2) and weibull.mean_l1 == pytest.approx(1987.8)


def test_orlib_npz_and_json_loaders(tmp_path):
    text = "2\n u_a\n 10 3 2\n 6\n 4\n 5\n u_b\n 10 2 1\n 3\n 7\n"
    (tmp_path / "binpack_small.txt").write_text(text)
    data = inst.load_file(tmp_path / "binpack_small.txt")
    assert [i.name for i in data.instances] == ["u_a", "u_b"]
    assert data.instances[0].items.tolist() == [6, 4, 5] and data.instances[1].capacity == 10
    np.savez(tmp_path / "two.npz", capacity=10, items_0=np.array([6.0, 4.0]), items_1=np.array([1.0]))
    assert [i.items.tolist() for i in inst.load_file(tmp_path / "two.npz").instances] == [[6, 4], [1]]
    (tmp_path / "r.json").write_text(json.dumps({"name": "r", "capacity": 5, "instances": {"x": [1, 2]}}))
    assert inst.load_file(tmp_path / "r.json").instances[0].items.tolist() == [1, 2]


@pytest.mark.parametrize("name, content, message", [
    ("short.txt", "1\n u\n 10 3 2\n 6\n 4\n", "announces 3 items"),
    ("big.json", json.dumps({"capacity": 5, "instances": {"x": [6]}}), "(0, capacity=5]"),
    ("bad.json", "{not json", "not a bin-packing dataset record"),
])
def test_bad_files_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(inst.InstanceError) as err:
        inst.load_file(tmp_path / name)
    assert str(tmp_path / name) in str(err.value) and message in str(err.value)


def test_problem_splits_are_configured():
    problem = load_problem(BINPACK)
    test = inst.split_datasets(problem, "test")
    assert [d.name for d in test][:2] == ["OR3", "Weibull 5k"]
    assert {d.name for d in test} >= {"OR1", "OR2", "OR4", "Weibull 10k", "Weibull 100k"}
    with pytest.raises(inst.InstanceError, match="no \\[\\[splits.nope\\]\\]"):
        inst.split_datasets(problem, "nope")
