"""Hedging transforms and packing portfolios: invariants and hand-checked values."""
from __future__ import annotations

import time

import pytest
import torch

from heubase.eplb import hedge
from heubase.eplb.hedge import hedge_loads, raise_floor, shrink_to_mean, temper_loads
from heubase.eplb.pack import pack_lpt
from heubase.eplb.plan import pack_loads, pack_sizes
from heubase.eplb.portfolio import best_packing, pack_best_of, pack_portfolio

W = torch.tensor([[8.0, 4.0, 0.0, 4.0], [1.0, 1.0, 1.0, 1.0]])


def test_shrink_to_mean_by_hand_and_keeps_totals():
    out = shrink_to_mean(W, 0.5)
    assert out[0].tolist() == [6.0, 4.0, 2.0, 4.0]
    assert torch.allclose(out.sum(1), W.double().sum(1))
    assert torch.equal(shrink_to_mean(W, 0.0), W.double())
    assert torch.equal(shrink_to_mean(W, 7.0), shrink_to_mean(W, 1.0))  # clamped


def test_raise_floor_and_hedge():
    assert raise_floor(W, 0.5)[0].tolist() == [8.0, 4.0, 2.0, 4.0]
    hedged = hedge_loads(W, smoothing=0.0, floor=0.25)
    assert hedged[0].tolist() == [8.0, 4.0, 1.0, 4.0]
    assert bool((hedge_loads(W * 0) == 0).all())


def test_temper_keeps_totals_and_flattens():
    out = temper_loads(W, 0.5)
    assert torch.allclose(out.sum(1), W.double().sum(1))
    assert out[0, 0] / out[0, 1] < W[0, 0] / W[0, 1]
    assert torch.allclose(temper_loads(W, 1.0), W.double())


def test_portfolio_packings_are_valid_and_best_is_never_worse_than_lpt():
    torch.manual_seed(0)
    weights = torch.rand(32, 24, dtype=torch.float64) ** 3
    packings = pack_portfolio(weights, 4, num_starts=6)
    assert len(packings) == 6
    for packing in packings:
        assert bool((pack_sizes(packing, 4) == 6).all())
    best = pack_best_of(weights, 4, num_starts=6)
    peak = pack_loads(weights, best, 4).max(1).values
    assert bool((peak <= pack_loads(weights, pack_lpt(weights, 4), 4).max(1).values + 1e-12).all())


def test_portfolio_respects_deadline_and_best_packing_needs_input():
    weights = torch.rand(4, 8, dtype=torch.float64)
    assert len(pack_portfolio(weights, 2, num_starts=8, deadline=time.perf_counter() - 1)) == 1
    with pytest.raises(ValueError):
        best_packing(weights, [], 2)


def test_best_packing_picks_per_row():
    weights = torch.tensor([[3.0, 1.0, 2.0, 2.0], [3.0, 1.0, 2.0, 2.0]], dtype=torch.float64)
    good = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]])
    bad = torch.tensor([[0, 1, 0, 1], [0, 1, 0, 1]])
    chosen = best_packing(weights, [bad, good], 2)
    assert torch.equal(chosen, good)


@pytest.mark.skipif(hedge.HEDGE_ROWS is None, reason="numba is not installed")
@pytest.mark.parametrize("transform, kwargs", [(shrink_to_mean, {"smoothing": 0.3}), (shrink_to_mean, {"smoothing": 0}),
                                               (raise_floor, {"floor": 0.2}), (hedge_loads, {}),
                                               (hedge_loads, {"smoothing": 2.0, "floor": -1.0})])
def test_the_compiled_pass_is_the_torch_code(monkeypatch, transform, kwargs):
    gen = torch.Generator().manual_seed(3)
    loads = [(1000 * torch.rand(7, 256, generator=gen) ** 4).round(), torch.rand(5, 9, generator=gen) - 0.3,
             torch.tensor([[1.0, float("nan"), 3.0], [float("inf"), 1.0, 0.0], [-2.0, 0.0, 0.0]]),
             torch.randint(0, 50, (4, 6), generator=gen), torch.rand(3, 8, dtype=torch.float32, generator=gen)]
    for weight in loads:
        fast = transform(weight, **kwargs)
        with monkeypatch.context() as patch:
            patch.setattr(hedge, "HEDGE_ROWS", None)
            want = transform(weight, **kwargs)
        assert fast.dtype == want.dtype == torch.float64 and fast.shape == want.shape
        assert torch.equal(torch.isnan(fast), torch.isnan(want)) and torch.equal(torch.isinf(fast), torch.isinf(want))
        finite = torch.isfinite(want)
        assert torch.allclose(fast[finite], want[finite], rtol=1e-12, atol=0), (transform.__name__, weight)
    strided = loads[0].t()                                   # not contiguous: copied, same result
    assert torch.allclose(transform(strided, **kwargs), transform(strided.contiguous(), **kwargs), rtol=0, atol=0)
