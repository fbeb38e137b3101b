"""First fit and best fit reproduce FunSearch's published figures exactly on the shipped OR3 and Weibull 5k sets.

Published (FunSearch, Table 1 and bin_packing.ipynb): first fit 5.74 % / 4.23 %,
best fit 5.37 % / 3.98 % (212.0 and 2067.0 mean bins over mean L1 bounds of 201.2
and 1987.8), excess of the mean bin count over the mean L1 bound.
"""
from __future__ import annotations

import numpy as np
import pytest

from binpack_helpers import BINPACK, load_binpack_module
from heubase.binpack import rules

inst = load_binpack_module("instances")
online = load_binpack_module("online")


def excess(path, rule):
    data = inst.load_json(BINPACK / "data" / path)
    bins = [online.pack(i.items, i.capacity, rule) for i in data.instances]
    bounds = [inst.l1_bound(i.items, i.capacity) for i in data.instances]
    return float(np.mean(bins)), round(inst.excess_percent(bins, bounds), 2)


@pytest.mark.parametrize("path, rule, mean_bins, published", [
    ("funsearch_or3.json", rules.first_fit, None, 5.74),
    ("funsearch_or3.json", rules.best_fit, 212.0, 5.37),
    ("funsearch_weibull_5k.json", rules.first_fit, None, 4.23),
    ("funsearch_weibull_5k.json", rules.best_fit, 2067.0, 3.98),
])
def test_published_baselines_are_reproduced(path, rule, mean_bins, published):
    bins, percent = excess(path, rule)
    assert percent == published
    if mean_bins is not None:
        assert bins == mean_bins
