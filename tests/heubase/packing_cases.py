"""Shared test inputs for packers and refiners: a hypothesis strategy and the max-pack-load measure."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from heubase.eplb.plan import pack_loads


def max_load(weights: torch.Tensor, packs: torch.Tensor, m: int) -> torch.Tensor:
    """Heaviest pack of every row."""
    return pack_loads(weights.double(), packs, m).amax(1)


@st.composite
def problems(draw):
    """(weights [B, m*capacity], m) with float loads and small integers that force ties."""
    m = draw(st.integers(1, 5))
    capacity = draw(st.integers(1, 6))
    batch = draw(st.integers(1, 4))
    values = st.one_of(st.floats(0, 100, allow_nan=False, allow_infinity=False),
                       st.integers(0, 4).map(float))
    rows = draw(st.lists(st.lists(values, min_size=m * capacity, max_size=m * capacity),
                         min_size=batch, max_size=batch))
    return torch.tensor(rows, dtype=torch.float64), m
