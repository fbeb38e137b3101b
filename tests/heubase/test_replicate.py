"""heubase.eplb.replicate: min–max greedy replication and its closed form."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from heubase.eplb.replicate import (expand_replicas, replica_loads, replicate_greedy, replicate_proportional,
                                    replicate_topk)

REPLICATORS = [replicate_greedy, replicate_topk]


@st.composite
def problems(draw):
    layers = draw(st.integers(1, 3))
    experts = draw(st.integers(1, 8))
    extra = draw(st.integers(0, 12))
    values = st.one_of(st.floats(0, 1000, allow_nan=False, allow_infinity=False),
                       st.integers(0, 5).map(float))          # small integers force ties
    rows = draw(st.lists(st.lists(values, min_size=experts, max_size=experts), min_size=layers, max_size=layers))
    return torch.tensor(rows, dtype=torch.float64), experts + extra


@pytest.mark.parametrize("replicate", REPLICATORS)
def test_hand_worked(replicate):
    # spare slots go to the largest quotients 6/1, 6/2 -> expert 0 twice; loads per replica 2, 1, 2
    assert replicate(torch.tensor([[6.0, 1.0, 2.0]]), 5).tolist() == [[3, 1, 1]]
    # 8/1, 5/1, 8/2 = 4 > 5/2, 8/3 -> [3, 2, 1]
    assert replicate(torch.tensor([[8.0, 5.0, 1.0]]), 6).tolist() == [[3, 2, 1]]
    # no spare slot: one replica each
    assert replicate(torch.tensor([[3.0, 1.0]]), 2).tolist() == [[1, 1]]


@pytest.mark.parametrize("replicate", REPLICATORS)
def test_too_few_slots(replicate):
    with pytest.raises(ValueError):
        replicate(torch.ones(2, 5), 4)
    with pytest.raises(ValueError):
        replicate(torch.ones(5), 6)


@settings(max_examples=150, deadline=None)
@given(problems())
def test_counts_valid_and_topk_matches_greedy(problem):
    weight, slots = problem
    greedy, topk = replicate_greedy(weight, slots), replicate_topk(weight, slots)
    for counts in (greedy, topk):
        assert counts.dtype == torch.int64
        assert counts.shape == weight.shape
        assert (counts >= 1).all()
        assert (counts.sum(1) == slots).all()
    per_greedy = (weight / greedy).amax(1)
    per_topk = (weight / topk).amax(1)
    assert torch.equal(per_greedy, per_topk)


@settings(max_examples=150, deadline=None)
@given(problems(), st.sampled_from([0.5, 1.0, 2.0]))
def test_proportional_counts_are_valid_and_within_one_of_the_quota(problem, power):
    weight, slots = problem
    counts = replicate_proportional(weight, slots, power=power)
    assert counts.dtype == torch.int64 and counts.shape == weight.shape
    assert (counts >= 1).all() and (counts.sum(1) == slots).all()
    extra = slots - weight.shape[1]
    share = (weight / weight.amax(1, keepdim=True).clamp(min=1e-300)) ** power   # scaled: subnormals do not vanish
    total = share.sum(1, keepdim=True)
    quota = torch.where(total > 0, share / total.clamp(min=1e-300), 1.0 / weight.shape[1]) * extra
    spare = (counts - 1).double()
    assert ((spare - quota).abs() < 1 + 1e-9).all()            # Hamilton: floor or ceil of every quota


def test_proportional_by_hand_and_unlike_min_max():
    # extra 4 shared 5:1:2:0 -> quotas 2.5, 0.5, 1, 0; floors 2, 0, 1, 0; the slot left goes to the larger
    # remainder 0.5, a tie of experts 0 and 1 broken to the lower id
    assert replicate_proportional(torch.tensor([[5.0, 1.0, 2.0, 0.0]]), 8).tolist() == [[4, 1, 2, 1]]
    # the min-max greedy levels the hot expert instead: 12/4 = 3 = the next quotients 3/1, 3/1
    weight = torch.tensor([[12.0, 3.0, 3.0, 2.0]])
    assert replicate_greedy(weight, 8).tolist() == [[5, 1, 1, 1]]
    assert replicate_proportional(weight, 8).tolist() == [[3, 2, 2, 1]]     # quotas 2.4, 0.6, 0.6, 0.4
    # no load at all: the spare slots are spread from the lowest id
    assert replicate_proportional(torch.zeros(1, 3), 5).tolist() == [[2, 2, 1]]
    # non-finite loads do not break the counts
    odd = replicate_proportional(torch.tensor([[float("nan"), float("inf"), 1.0]]), 6)
    assert odd.tolist() == [[1, 4, 1]]


def test_greedy_is_min_max_on_small_cases():
    # brute force over all count vectors for a few small problems
    import itertools
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        weight = torch.rand(1, 3, generator=gen, dtype=torch.float64) * 10
        slots = 7
        best = min(max(float(w) / c for w, c in zip(weight[0], cnt))
                   for cnt in itertools.product(range(1, 6), repeat=3) if sum(cnt) == slots)
        got = float((weight / replicate_greedy(weight, slots)).amax())
        assert got == pytest.approx(best)


def test_expand_and_replica_loads():
    counts = torch.tensor([[2, 1, 3]])
    items = expand_replicas(counts)
    assert items.tolist() == [[0, 0, 1, 2, 2, 2]]
    loads = replica_loads(torch.tensor([[4.0, 5.0, 9.0]]), counts, items)
    assert loads.tolist() == [[2.0, 2.0, 5.0, 3.0, 3.0, 3.0]]
    with pytest.raises(ValueError):
        expand_replicas(torch.tensor([[1, 1], [2, 1]]))


def test_doctests():
    import doctest

    import heubase.eplb.replicate as module
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
