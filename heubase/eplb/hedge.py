"""Load transforms that hedge a plan against drift to the next window.

The solver sees one window but is scored on the next. These transforms return
*planning loads* ``[L, E]`` (finite, non-negative) built from the observed
``weight``: the plan is computed on them, the score uses the real next window.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from heubase.eplb.kernels import HEDGE_ROWS


def _compiled(weight: torch.Tensor, smoothing: Optional[float], floor: Optional[float]) -> Optional[torch.Tensor]:
    """The transforms below in one compiled pass over a 2-D CPU tensor (means summed in order, so the last bits
    can differ from torch's); None where it does not apply (numba missing, another device, shape or dtype)."""
    if HEDGE_ROWS is None or weight.dim() != 2 or weight.device.type != "cpu" or weight.is_complex():
        return None
    w = np.ascontiguousarray(weight.detach().to(torch.float64).numpy())
    out = np.empty_like(w)
    HEDGE_ROWS(w, smoothing or 0.0, smoothing is not None, floor or 0.0, floor is not None, out)
    return torch.from_numpy(out)


def shrink_to_mean(weight: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Blend every layer's loads with the layer mean: ``(1 - s) * w + s * mean(w)``.

    ``smoothing`` is clamped to [0, 1]; 0 returns the loads unchanged.

    >>> shrink_to_mean(torch.tensor([[4.0, 0.0]]), 0.5).tolist()
    [[3.0, 1.0]]
    """
    s = min(max(float(smoothing), 0.0), 1.0)
    fast = _compiled(weight, s, None)
    if fast is not None:
        return fast
    w = weight.double().clamp(min=0)
    return (1.0 - s) * w + s * w.mean(dim=1, keepdim=True)


def raise_floor(weight: torch.Tensor, floor: float = 0.05) -> torch.Tensor:
    """Raise cold experts to at least ``floor`` times their layer's mean load.

    >>> raise_floor(torch.tensor([[9.0, 0.0, 3.0]]), 0.5).tolist()
    [[9.0, 2.0, 3.0]]
    """
    f = max(float(floor), 0.0)
    fast = _compiled(weight, None, f)
    if fast is not None:
        return fast
    w = weight.double().clamp(min=0)
    return torch.maximum(w, f * w.mean(dim=1, keepdim=True))


def hedge_loads(weight: torch.Tensor, smoothing: float = 0.1, floor: float = 0.05) -> torch.Tensor:
    """:func:`shrink_to_mean` then :func:`raise_floor`: fewer replicas chased after transient spikes."""
    fast = _compiled(weight, min(max(float(smoothing), 0.0), 1.0), max(float(floor), 0.0))
    return fast if fast is not None else raise_floor(shrink_to_mean(weight, smoothing), floor)


def temper_loads(weight: torch.Tensor, exponent: float = 0.9) -> torch.Tensor:
    """Compress contrasts with a power ``w ** exponent``, rescaled to keep each layer's total.

    ``exponent`` < 1 flattens hot experts (hedging), 1 keeps the loads.
    """
    w = weight.double().clamp(min=0)
    tempered = w.pow(max(float(exponent), 0.0))
    total, new_total = w.sum(dim=1, keepdim=True), tempered.sum(dim=1, keepdim=True)
    return torch.where(new_total > 0, tempered * total / new_total.clamp(min=1e-300), w)
