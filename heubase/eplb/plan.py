"""Plan plumbing: slot→GPU maps, per-slot and per-GPU loads, log2phy construction."""
from __future__ import annotations

import numpy as np
import torch

from heubase.eplb.kernels import COUNTS_ROWS

_COUNT_ERRORS = {
    1: "{name} gave an expert no replica (every count must be >= 1)",
    2: "{name} gave an expert more than the {num_slots} replicas of its row",
    3: "{name} must hand out exactly {num_slots} replicas in every row",
}


def sum_in_order(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sums over ``axis``, adding item by item in order, as the compiled kernels do (numpy's own ``sum`` is
    pairwise along a contiguous axis, so its last bits can differ).

    >>> sum_in_order(np.array([[1.0, 2.0], [3.0, 4.0]]), 1).tolist()
    [3.0, 7.0]
    """
    if values.shape[axis] == 0:
        return values.sum(axis)
    return np.take(np.cumsum(values, axis=axis), -1, axis=axis)


def numpy_loads(weight: torch.Tensor) -> np.ndarray:
    """Float64 numpy loads of ``weight [L, E]`` (no copy when already float64 on the CPU: treat as read-only);
    NaN and negative loads count as 0, +inf and loads above 1e300 as 1e300 (so sums stay finite).

    >>> numpy_loads(torch.tensor([[2, -1], [float("nan"), 3]])).tolist()
    [[2.0, 0.0], [0.0, 3.0]]
    """
    if weight.dim() != 2:
        raise ValueError(f"weight must be [layers, experts], got shape {tuple(weight.shape)}")
    w = np.asarray(weight.detach().to("cpu").numpy(), dtype=np.float64)
    if w.size and not (w.min() >= 0 and w.max() <= 1e300):                 # sums and 2 * max stay finite
        w = np.clip(np.nan_to_num(w, nan=0.0, posinf=1e300, neginf=0.0), 0.0, 1e300)
    return w


def gpu_of_slot(num_slots: int, num_gpus: int) -> torch.Tensor:
    """GPU index of every physical slot (slots are split evenly and contiguously).

    >>> gpu_of_slot(6, 3).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    if num_gpus <= 0 or num_slots % num_gpus:
        raise ValueError(f"{num_slots} slots cannot be split evenly over {num_gpus} GPUs")
    return torch.arange(num_slots) // (num_slots // num_gpus)


def replica_counts(phy2log: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Number of slots holding each expert: ``[L, R]`` expert ids → ``[L, E]`` int64 counts."""
    counts = torch.zeros(phy2log.shape[0], num_experts, dtype=torch.int64)
    counts.scatter_add_(1, phy2log.long(), torch.ones_like(phy2log, dtype=torch.int64))
    return counts


def slot_loads(weight: torch.Tensor, phy2log: torch.Tensor, logcnt: torch.Tensor | None = None) -> torch.Tensor:
    """Load of every physical slot when an expert's tokens are split evenly over its replicas."""
    if logcnt is None:
        logcnt = replica_counts(phy2log, weight.shape[1])
    per_replica = weight.double() / logcnt.clamp(min=1).double()
    return per_replica.gather(1, phy2log.long())


def gpu_loads(weight: torch.Tensor, phy2log: torch.Tensor, num_gpus: int,
              logcnt: torch.Tensor | None = None) -> torch.Tensor:
    """``[L, num_gpus]`` load of every GPU under the plan ``phy2log``."""
    loads = slot_loads(weight, phy2log, logcnt)
    layers, slots = loads.shape
    if slots % num_gpus:
        raise ValueError(f"{slots} slots cannot be split evenly over {num_gpus} GPUs")
    return loads.view(layers, num_gpus, slots // num_gpus).sum(-1)


def build_log2phy(phy2log: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert ``phy2log``: returns ``(log2phy [L, E, X], logcnt [L, E])``.

    ``log2phy[l, e]`` lists the slots of expert ``e`` in increasing slot order,
    padded with -1 up to ``X = max(logcnt)``.

    >>> log2phy, cnt = build_log2phy(torch.tensor([[1, 0, 1]]), 2)
    >>> log2phy.tolist(), cnt.tolist()
    ([[[1, -1], [0, 2]]], [[1, 2]])
    """
    phy2log = phy2log.long()
    layers, slots = phy2log.shape
    logcnt = replica_counts(phy2log, num_experts)
    width = max(1, int(logcnt.max().item())) if logcnt.numel() else 1
    slot_ids = torch.arange(slots).expand(layers, slots)
    order = torch.argsort(phy2log * slots + slot_ids, dim=1)
    sorted_expert = phy2log.gather(1, order)
    first = logcnt.cumsum(1) - logcnt
    rank = slot_ids - first.gather(1, sorted_expert)
    log2phy = torch.full((layers, num_experts * width), -1, dtype=torch.int64)
    log2phy.scatter_(1, sorted_expert * width + rank, order)
    return log2phy.view(layers, num_experts, width), logcnt


def assemble_slots(item_value: torch.Tensor, pack_of_item: torch.Tensor) -> torch.Tensor:
    """Lay items out in slot order: pack 0's items first, then pack 1's, …

    Within a pack, items keep their original relative order. With equal-size
    packs the result is a ``[B, n]`` slot table whose slot ``r`` belongs to pack
    ``r // (n // m)``; ``item_value`` says what each slot holds (e.g. expert ids).
    """
    batch, items = pack_of_item.shape
    ids = torch.arange(items).expand(batch, items)
    order = torch.argsort(pack_of_item.long() * items + ids, dim=1)
    return item_value.gather(1, order)


def pack_sizes(pack_of_item: torch.Tensor, num_packs: int) -> torch.Tensor:
    """``[B, m]`` number of items in each pack."""
    sizes = torch.zeros(pack_of_item.shape[0], num_packs, dtype=torch.int64)
    return sizes.scatter_add_(1, pack_of_item.long(), torch.ones_like(pack_of_item, dtype=torch.int64))


def pack_loads(weights: torch.Tensor, pack_of_item: torch.Tensor, num_packs: int) -> torch.Tensor:
    """``[B, m]`` total weight in each pack."""
    loads = torch.zeros(weights.shape[0], num_packs, dtype=weights.dtype)
    return loads.scatter_add_(1, pack_of_item.long(), weights)


def checked_packing(pack_of_item: object, item_load: torch.Tensor, num_packs: int, name: str = "packer") -> torch.Tensor:
    """Check a packing produced by ``name`` and return it as int64; ``ValueError`` naming ``name`` otherwise.

    A packing must be a tensor of the items' shape, with pack indices in
    ``[0, num_packs)`` and exactly ``n // num_packs`` items in every pack.
    """
    if not isinstance(pack_of_item, torch.Tensor) or pack_of_item.shape != item_load.shape:
        raise ValueError(f"{name} must return a tensor of shape {tuple(item_load.shape)}")
    packing = pack_of_item.long()
    if bool(((packing < 0) | (packing >= num_packs)).any()):
        raise ValueError(f"{name} returned a pack index outside [0, {num_packs})")
    if bool((pack_sizes(packing, num_packs) != item_load.shape[1] // num_packs).any()):
        raise ValueError(f"{name} must put exactly {item_load.shape[1] // num_packs} items in every pack")
    return packing


def checked_counts(counts: object, weight: torch.Tensor, num_slots: int, name: str = "replicator") -> torch.Tensor:
    """Check replica counts produced by ``name`` and return them as int64; ``ValueError`` naming ``name`` otherwise.

    Counts must be a tensor of the loads' shape, every count at least 1 (and at
    most ``num_slots``) and every row summing to ``num_slots``. The checks run in numpy (a few µs each,
    against ~10 µs per torch call on small CPU tensors); the result stays on the
    counts' device.

    >>> checked_counts(torch.tensor([[2.0, 1.0]]), torch.ones(1, 2), 3).tolist()
    [[2, 1]]
    >>> checked_counts(torch.tensor([[3, 0]]), torch.ones(1, 2), 3, "func_2")
    Traceback (most recent call last):
    ...
    ValueError: func_2 gave an expert no replica (every count must be >= 1)
    """
    if not isinstance(counts, torch.Tensor) or counts.shape != weight.shape:
        raise ValueError(f"{name} must return a tensor of shape {tuple(weight.shape)}")
    if COUNTS_ROWS is not None and counts.dtype == torch.int64 and counts.device.type == "cpu" and counts.dim() == 2:
        failed = COUNTS_ROWS(counts.numpy(), num_slots)               # one compiled pass, the same checks
        if failed:
            raise ValueError(_COUNT_ERRORS[failed].format(name=name, num_slots=num_slots))
        return counts
    values = counts.detach().to("cpu")
    if values.is_complex():
        raise ValueError(f"{name} must return real replica counts")
    if values.dtype == torch.bfloat16:                                         # numpy has no bfloat16
        values = values.to(torch.float64)
    values = values.numpy()
    if values.dtype.kind == "f" and not (values == np.round(values)).all():
        raise ValueError(f"{name} must return whole replica counts")
    logcnt = values.astype(np.int64, copy=False)
    if logcnt.size and logcnt.min() < 1:
        raise ValueError(_COUNT_ERRORS[1].format(name=name, num_slots=num_slots))
    if logcnt.size and logcnt.max() > num_slots:                                # row sums cannot wrap around
        raise ValueError(_COUNT_ERRORS[2].format(name=name, num_slots=num_slots))
    if (logcnt.sum(1) != num_slots).any():
        raise ValueError(_COUNT_ERRORS[3].format(name=name, num_slots=num_slots))
    return torch.from_numpy(logcnt).to(counts.device)
