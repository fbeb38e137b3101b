"""heubase.eplb.pack: equal-cardinality packers."""
from __future__ import annotations

import itertools
from functools import partial

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from packing_cases import max_load, problems

from heubase.eplb.pack import pack_karmarkar_karp, pack_lookahead, pack_lpt, pack_snake
from heubase.eplb.plan import pack_loads, pack_sizes

PACKERS = {
    "lpt": pack_lpt,
    "snake": pack_snake,
    "karmarkar_karp": pack_karmarkar_karp,
    "lookahead": pack_lookahead,
    "lookahead_w3_d4": partial(pack_lookahead, width=3, depth=4),
}


def brute_force_optimum(weights: list[float], m: int) -> float:
    capacity = len(weights) // m
    best = float("inf")
    for labels in set(itertools.permutations([p for p in range(m) for _ in range(capacity)])):
        loads = [0.0] * m
        for w, p in zip(weights, labels):
            loads[p] += w
        best = min(best, max(loads))
    return best


@pytest.mark.parametrize("name", PACKERS)
@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_valid_packing_and_deterministic(name, problem):
    weights, m = problem
    packer = PACKERS[name]
    before = weights.clone()
    packs = packer(weights, m)
    assert torch.equal(weights, before)                          # input untouched
    assert packs.dtype == torch.int64 and packs.shape == weights.shape
    assert ((packs >= 0) & (packs < m)).all()                    # every item in some pack
    assert (pack_sizes(packs, m) == weights.shape[1] // m).all()  # exact cardinality
    assert torch.equal(packer(weights, m), packs)                # deterministic
    # rows are independent problems
    assert torch.equal(packer(weights[-1:], m), packs[-1:])


@pytest.mark.parametrize("name", PACKERS)
def test_float32_and_wide_batches(name):
    weights = torch.rand(232, 72, generator=torch.Generator().manual_seed(0))
    packs = PACKERS[name](weights, 8)
    assert (pack_sizes(packs, 8) == 9).all()


@pytest.mark.parametrize("name", PACKERS)
@pytest.mark.parametrize("weights, m, optimum", [
    ([5.0, 4.0, 3.0, 2.0], 2, 7.0),
    ([9.0, 8.0, 7.0, 6.0, 5.0, 4.0], 3, 13.0),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 3, 2.0),
])
def test_hand_worked_optimum(name, weights, m, optimum):
    assert brute_force_optimum(weights, m) == optimum
    w = torch.tensor([weights])
    assert float(max_load(w, PACKERS[name](w, m), m)) == optimum


def test_case_where_lpt_is_suboptimal():
    # total 75, so no packing beats 38 (brute force confirms it); LPT ends at 39, serpentine at 40.
    weights = [9.0, 14.0, 9.0, 8.0, 7.0, 11.0, 14.0, 3.0]
    assert brute_force_optimum(weights, 2) == 38.0
    w = torch.tensor([weights])
    assert float(max_load(w, pack_lpt(w, 2), 2)) == 39.0
    assert float(max_load(w, pack_snake(w, 2), 2)) == 40.0
    # KK by hand: tuples (14,14) (11,9) (9,8) (7,3); merge (7,3)+(11,9) -> (16,14);
    # (16,14)+(9,8) -> (24,23); (24,23)+(14,14) -> (38,37)
    assert float(max_load(w, pack_karmarkar_karp(w, 2), 2)) == 38.0
    assert float(max_load(w, pack_lookahead(w, 2), 2)) == 38.0


def test_snake_deals_serpentine():
    w = torch.arange(12, 0, -1, dtype=torch.float64).unsqueeze(0)   # already sorted descending
    assert pack_snake(w, 3).tolist() == [[0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0]]
    w = torch.tensor([[1.0, 6.0, 3.0, 5.0, 4.0, 2.0]])
    assert pack_snake(w, 2).tolist() == [[1, 0, 0, 1, 1, 0]]


def _kk_reference(weights: list[float], m: int) -> set[frozenset[int]]:
    """Balanced largest differencing, plain Python, returning the packs as item sets."""
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    parts = [[(weights[i], [i]) for i in order[t:t + m]] for t in range(0, len(weights), m)]
    while len(parts) > 1:
        parts.sort(key=lambda p: p[0][0] - p[-1][0], reverse=True)
        a, b = parts[0], parts[1]
        merged = sorted(((sa + sb, ia + ib) for (sa, ia), (sb, ib) in zip(a, reversed(b))), key=lambda s: -s[0])
        parts = [merged] + parts[2:]
    return {frozenset(items) for _, items in parts[0]}


def test_karmarkar_karp_matches_plain_python_reference():
    gen = torch.Generator().manual_seed(2)
    for n, m in [(8, 2), (12, 3), (20, 4), (72, 8), (30, 5)]:
        weights = torch.rand(25, n, generator=gen, dtype=torch.float64)
        packs = pack_karmarkar_karp(weights, m)
        for row in range(weights.shape[0]):
            got = {frozenset(torch.nonzero(packs[row] == p).flatten().tolist()) for p in range(m)}
            assert got == _kk_reference(weights[row].tolist(), m)


def test_karmarkar_karp_spread_below_lpt_on_uniform_weights():
    # Verified robust: uniform weights, 72 items into 8 packs -> KK mean spread ~0.01 vs LPT ~0.06.
    # (Not a dominance claim: on heavy-tailed weights KK is clearly worse than LPT.)
    weights = torch.rand(200, 72, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def spread(packs):
        loads = pack_loads(weights, packs, 8)
        return (loads.amax(1) - loads.amin(1)).mean()

    assert spread(pack_karmarkar_karp(weights, 8)) < 0.5 * spread(pack_lpt(weights, 8))
    assert spread(pack_lpt(weights, 8)) < spread(pack_snake(weights, 8))


@settings(max_examples=80, deadline=None)
@given(problems())
def test_lookahead_special_cases_equal_lpt(problem):
    weights, m = problem
    lpt = pack_lpt(weights, m)
    assert torch.equal(pack_lookahead(weights, m, width=1), lpt)
    assert torch.equal(pack_lookahead(weights, m, width=3, depth=1), lpt)   # one-item lookahead = LPT


@settings(max_examples=80, deadline=None)
@given(problems())
def test_full_lookahead_never_worse_than_lpt(problem):
    weights, m = problem
    for width in (2, 4):
        assert (max_load(weights, pack_lookahead(weights, m, width=width), m)
                <= max_load(weights, pack_lpt(weights, m), m)).all()


def test_full_lookahead_improves_lpt_on_average():
    weights = torch.rand(100, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert max_load(weights, pack_lookahead(weights, 4), 4).mean() < max_load(weights, pack_lpt(weights, 4), 4).mean()


@pytest.mark.parametrize("name", PACKERS)
def test_one_item_per_pack_is_identity(name):
    w = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert PACKERS[name](w, 3).tolist() == [[0, 1, 2], [0, 1, 2]]


@pytest.mark.parametrize("name", PACKERS)
def test_bad_sizes(name):
    packer = PACKERS[name]
    with pytest.raises(ValueError, match="cannot fill"):
        packer(torch.ones(2, 7), 3)
    with pytest.raises(ValueError):
        packer(torch.ones(2, 6), 0)
    with pytest.raises(ValueError):
        packer(torch.ones(6), 3)


def test_lookahead_bad_arguments():
    with pytest.raises(ValueError):
        pack_lookahead(torch.ones(1, 4), 2, width=0)
    with pytest.raises(ValueError):
        pack_lookahead(torch.ones(1, 4), 2, depth=0)


def test_doctests():
    import doctest

    import heubase.eplb.pack as module
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
