"""heubase.eplb.refine: cardinality-preserving exchange refiners."""
from __future__ import annotations

from functools import partial

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from heubase.eplb.pack import pack_lpt, pack_snake
from heubase.eplb.plan import pack_loads, pack_sizes
from heubase.eplb.refine import swap_all_pairs, swap_max_min, swap_pairs

REFINERS = {
    "swap_max_min": swap_max_min,
    "swap_all_pairs": swap_all_pairs,
    "swap_pairs": swap_pairs,
    "swap_max_min_r1": partial(swap_max_min, rounds=1),
    "swap_all_pairs_r3": partial(swap_all_pairs, rounds=3),
}


@st.composite
def packed_problems(draw):
    m = draw(st.integers(1, 5))
    capacity = draw(st.integers(1, 6))
    batch = draw(st.integers(1, 4))
    n = m * capacity
    values = st.one_of(st.floats(0, 100, allow_nan=False, allow_infinity=False),
                       st.integers(0, 4).map(float))
    rows = draw(st.lists(st.lists(values, min_size=n, max_size=n), min_size=batch, max_size=batch))
    base = [p for p in range(m) for _ in range(capacity)]
    packs = [draw(st.permutations(base)) for _ in range(batch)]
    return torch.tensor(rows, dtype=torch.float64), torch.tensor(packs, dtype=torch.int64), m


def check_refined(weights, packs, refined, m):
    assert refined.dtype == torch.int64 and refined.shape == packs.shape
    assert ((refined >= 0) & (refined < m)).all()
    assert torch.equal(pack_sizes(refined, m), pack_sizes(packs, m))            # cardinality kept
    before, after = pack_loads(weights, packs, m), pack_loads(weights, refined, m)
    # every item still assigned once: the pack loads sum to the same total
    assert torch.allclose(after.sum(1), before.sum(1), rtol=1e-12, atol=1e-9)
    assert (after.amax(1) <= before.amax(1)).all()                              # max never worse


@pytest.mark.parametrize("name", REFINERS)
@settings(max_examples=60, deadline=None)
@given(problem=packed_problems())
def test_refiner_properties(name, problem):
    weights, packs, m = problem
    refine = REFINERS[name]
    w0, p0 = weights.clone(), packs.clone()
    refined = refine(weights, packs, m)
    assert torch.equal(weights, w0) and torch.equal(packs, p0)                 # inputs untouched
    assert refined.data_ptr() != packs.data_ptr()
    check_refined(weights, packs, refined, m)
    assert torch.equal(refine(weights, packs, m), refined)                     # deterministic
    assert torch.equal(refine(weights[-1:], packs[-1:], m), refined[-1:])      # rows independent


@pytest.mark.parametrize("name", REFINERS)
def test_refiners_on_default_batch(name):
    gen = torch.Generator().manual_seed(0)
    weights = torch.distributions.LogNormal(0.0, 1.0).sample((232, 72)).double()
    weights = weights * torch.rand(232, 72, generator=gen, dtype=torch.float64)
    for packer in (pack_lpt, pack_snake):
        packs = packer(weights, 8)
        refined = REFINERS[name](weights, packs, 8)
        check_refined(weights, packs, refined, 8)
        assert pack_loads(weights, refined, 8).amax(1).mean() < pack_loads(weights, packs, 8).amax(1).mean()


def test_swap_max_min_hand_made():
    w = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    refined = swap_max_min(w, torch.tensor([[0, 0, 1, 1]]), 2)
    assert pack_loads(w, refined, 2).tolist() == [[5.0, 5.0]]
    # loads 22 / 6: gap 16, and only 9 <-> 1 moves exactly half of it -> 14 / 14
    w = torch.tensor([[9.0, 7.0, 6.0, 1.0, 2.0, 3.0]])
    assert swap_max_min(w, torch.tensor([[0, 0, 0, 1, 1, 1]]), 2).tolist() == [[1, 0, 0, 0, 1, 1]]


def test_swap_all_pairs_reaches_a_middle_pack():
    # loads 19 / 13 / 12: no swap between heaviest and lightest helps, one with the middle pack does.
    w = torch.tensor([[9.0, 10.0, 5.0, 8.0, 2.0, 10.0]])
    packs = torch.tensor([[0, 0, 1, 1, 2, 2]])
    assert torch.equal(swap_max_min(w, packs, 3), packs)
    one = swap_all_pairs(w, packs, 3, rounds=1)
    assert pack_loads(w, one, 3).tolist() == [[15.0, 17.0, 12.0]]              # 9 <-> 5
    assert float(pack_loads(w, swap_all_pairs(w, packs, 3), 3).amax()) == 17.0


def test_swap_all_pairs_lowers_sum_of_squares_when_max_is_stuck():
    # loads {12, 1} = 13, {3, 8} = 11, {2, 5} = 7: no swap with the heaviest pack has
    # 0 < d < gap, but packs 1 and 2 can even out (3 <-> 2 gives 10 / 8).
    w = torch.tensor([[12.0, 1.0, 3.0, 8.0, 2.0, 5.0]])
    packs = torch.tensor([[0, 0, 1, 1, 2, 2]])
    refined = swap_all_pairs(w, packs, 3, rounds=1)
    before, after = pack_loads(w, packs, 3), pack_loads(w, refined, 3)
    assert after.tolist() == [[13.0, 10.0, 8.0]]
    assert (after ** 2).sum() < (before ** 2).sum()
    assert torch.equal(swap_max_min(w, packs, 3), packs)


def test_swap_pairs_finds_two_for_two():
    # loads 32 / 30, every single swap has d <= 0 or d >= 2; (11, 4) <-> (7, 7) gives 31 / 31.
    w = torch.tensor([[11.0, 10.0, 7.0, 4.0, 11.0, 7.0, 7.0, 5.0]])
    packs = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]])
    assert torch.equal(swap_max_min(w, packs, 2), packs)
    assert torch.equal(swap_all_pairs(w, packs, 2), packs)
    assert pack_loads(w, swap_pairs(w, packs, 2), 2).tolist() == [[31.0, 31.0]]


@pytest.mark.parametrize("name", ["swap_max_min", "swap_all_pairs", "swap_pairs"])
def test_zero_rounds_and_trivial_shapes(name):
    refine = REFINERS[name]
    w = torch.tensor([[5.0, 1.0, 4.0, 2.0]])
    packs = torch.tensor([[0, 0, 1, 1]])
    assert torch.equal(refine(w, packs, 2, rounds=0), packs)
    assert torch.equal(refine(w, torch.tensor([[0, 0, 0, 0]]), 1), torch.tensor([[0, 0, 0, 0]]))
    ident = torch.tensor([[2, 0, 3, 1]])
    assert torch.equal(refine(w, ident, 4), ident)


@pytest.mark.parametrize("name", ["swap_max_min", "swap_all_pairs", "swap_pairs"])
def test_bad_inputs(name):
    refine = REFINERS[name]
    with pytest.raises(ValueError, match="exactly"):
        refine(torch.ones(1, 4), torch.tensor([[0, 0, 0, 1]]), 2)
    with pytest.raises(ValueError):
        refine(torch.ones(1, 5), torch.tensor([[0, 0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError):
        refine(torch.ones(1, 4), torch.tensor([[0, 0, 1]]), 2)


def test_doctests():
    import doctest

    import heubase.eplb.refine as module
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
