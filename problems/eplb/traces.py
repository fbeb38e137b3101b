"""Expert-load traces as serving systems record them: SGLang dumps, JSON, our ``.npz``.

A :class:`Trace` keeps what a file says, at step granularity where it has steps:

* ``steps [S, L, E]`` int64 logical-expert counts (``S = 1`` for an ``[L, E]`` file),
  or ``None`` for a file that holds only a placement;
* ``placement [L, R]`` int64 physical→logical map when the file holds one;
* ``layer_ids``: index of each kept layer in the model's hidden-layer numbering
  and ``hidden_layers``, their total, so a placement can be written back in the
  layer convention a serving system wants (SGLang: all hidden layers, dense ones
  included; vLLM and the solver contract: MoE layers only).

Formats (field names as the serving systems write them; see docs/eplb-deployment.md):

* SGLang ``stat`` dump (``.pt``): ``{"rank", "logical_count" [S, L, E], ...}``; rows are
  a ring buffer (time order rotated by an unknown offset once it wrapped), unfilled
  rows are zero, dense layers are zero at every step; saved from GPU tensors.
* SGLang ``per_pass`` dump (``.pt``, one file per rank): ``{"records": [{"forward_pass_id",
  "global_physical_count" [L, P], ...}], "last_physical_to_logical_map" [L, P]}``.
  Counts are per physical slot; they are mapped to logical experts with the map
  and summed over rank files per forward pass (true time order).
* ``--init-expert-location`` files (``.pt`` or ``.json``) holding ``logical_count``
  (``[L, E]`` or ``[S, L, E]``) or ``physical_to_logical_map`` (``[L, P]``).
* our ``.npz`` with one array ``load [W, L, E]`` (read as ``W`` steps).

Every malformed file raises :class:`WorkloadError` with one line naming the file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from beam.problem import import_by_path

workloads = import_by_path(Path(__file__).resolve().with_name("workloads.py"), "beam_problem_eplb_workloads")
WorkloadError = workloads.WorkloadError

#: ``layers=`` choices: drop layers that are zero at every step (dense layers) or keep every row.
LAYER_CONVENTIONS = ("moe", "all")


@dataclass
class Trace:
    """What one trace file holds (see the module docstring)."""

    source: str
    kind: str
    steps: np.ndarray | None
    placement: np.ndarray | None = None
    layer_ids: list[int] = field(default_factory=list)
    hidden_layers: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def layers(self) -> int:
        return len(self.layer_ids)

    @property
    def experts(self) -> int | None:
        return None if self.steps is None else int(self.steps.shape[2])

    def weight(self) -> np.ndarray:
        """``[L, E]`` load summed over all steps (what DeepSeek's policy plans on)."""
        if self.steps is None:
            raise WorkloadError(f"{self.source}: holds a placement only, no expert loads")
        return self.steps.sum(axis=0)

    def windows(self, count: int | None = None, steps_per_window: int | None = None) -> np.ndarray:
        """Consecutive steps summed into windows ``[W, L, E]`` (ragged tail dropped with ``steps_per_window``)."""
        if self.steps is None:
            raise WorkloadError(f"{self.source}: holds a placement only, no expert loads")
        return workloads._windows_from_steps(self.steps, steps_per_window, count or self.steps.shape[0], self.source)


def _fail(path: Path, message: str) -> WorkloadError:
    return WorkloadError(f"{path}: {message}")


def _as_int_array(value: Any, path: Path, name: str) -> np.ndarray:
    """A tensor, array or nested list of non-negative integers as an int64 numpy array."""
    import torch

    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise _fail(path, f"'{name}' has dtype {value.dtype}, expected integers")
        return value.detach().to("cpu", torch.int64).numpy()
    try:
        arr = np.array(value)
    except ValueError:
        raise _fail(path, f"'{name}' is ragged (rows of different lengths)") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf" or arr.dtype == bool:
        raise _fail(path, f"'{name}' is ragged or holds non-numeric values")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise _fail(path, f"'{name}' holds non-integer values")
    return arr.astype(np.int64)


def _layer_filter(steps: np.ndarray, layers: str, path: Path, notes: list[str]) -> list[int]:
    if layers not in LAYER_CONVENTIONS:
        raise WorkloadError(f"{path}: unknown layer convention {layers!r} (choose {' or '.join(LAYER_CONVENTIONS)})")
    if layers == "all":
        return list(range(steps.shape[1]))
    kept = [int(i) for i in np.flatnonzero(steps.any(axis=(0, 2)))]
    dropped = steps.shape[1] - len(kept)
    if not kept:
        raise _fail(path, "every layer is zero at every step (no MoE traffic recorded)")
    if dropped:
        notes.append(f"dropped {dropped} layer(s) with no traffic at any step (dense layers): "
                     f"{_ranges(sorted(set(range(steps.shape[1])) - set(kept)))}")
    return kept


def _ranges(ids: Sequence[int]) -> str:
    parts, start = [], None
    for i, value in enumerate(ids):
        if start is None:
            start = value
        if i + 1 == len(ids) or ids[i + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}-{value}")
            start = None
    return ", ".join(parts)


def _from_counts(counts: np.ndarray, path: Path, kind: str, layers: str, notes: list[str],
                 drop_empty_steps: bool) -> Trace:
    if counts.ndim == 2:
        counts = counts[None]
    if counts.ndim != 3:
        raise _fail(path, f"counts have shape {list(counts.shape)}, expected [L, E] or [S, L, E]")
    if min(counts.shape) < 1:
        raise _fail(path, f"counts have shape {list(counts.shape)} with an empty axis")
    if counts.min() < 0:
        raise _fail(path, "counts hold negative values")
    if drop_empty_steps:
        filled = counts.reshape(counts.shape[0], -1).any(axis=1)
        if not filled.any():
            raise _fail(path, "every recorded step is empty (all-zero counts)")
        if not filled.all():
            notes.append(f"dropped {int((~filled).sum())} all-zero step row(s) (unfilled ring-buffer slots)")
        counts = counts[filled]
    keep = _layer_filter(counts, layers, path, notes)
    return Trace(str(path), kind, np.ascontiguousarray(counts[:, keep]), layer_ids=keep,
                 hidden_layers=counts.shape[1], notes=notes)


def _check_placement(placement: np.ndarray, path: Path, experts: int | None = None) -> np.ndarray:
    if placement.ndim != 2 or min(placement.shape) < 1:
        raise _fail(path, f"'physical_to_logical_map' has shape {list(placement.shape)}, expected [L, P]")
    if placement.min() < 0:
        raise _fail(path, "'physical_to_logical_map' holds negative expert ids")
    if experts is not None and placement.max() >= experts:
        raise _fail(path, f"'physical_to_logical_map' names expert {placement.max()} but there are {experts}")
    return placement


def _sglang_stat(data: dict, path: Path, layers: str) -> Trace:
    counts = _as_int_array(data["logical_count"], path, "logical_count")
    if counts.ndim != 3:
        raise _fail(path, f"'logical_count' has shape {list(counts.shape)}, expected [steps, layers, experts]")
    notes = ["SGLang stat dump: rows are a ring buffer (time order rotated by an unknown offset once it wrapped)"]
    return _from_counts(counts, path, "sglang-stat", layers, notes, drop_empty_steps=True)


def _sglang_per_pass(data: dict, path: Path, layers: str, extra: Sequence[dict] = ()) -> Trace:
    """``per_pass`` dumps of one or more ranks: physical counts → logical, summed per forward pass."""
    if "last_physical_to_logical_map" not in data:
        raise _fail(path, "per_pass dump has 'records' but no 'last_physical_to_logical_map'")
    placement = _check_placement(_as_int_array(data["last_physical_to_logical_map"], path,
                                               "last_physical_to_logical_map"), path)
    experts = int(placement.max()) + 1
    per_pass: dict[int, np.ndarray] = {}
    for dump in (data, *extra):
        records = dump.get("records")
        if not isinstance(records, list):
            raise _fail(path, "'records' must be a list of per-pass dicts")
        for i, record in enumerate(records):
            if not isinstance(record, dict) or "global_physical_count" not in record:
                raise _fail(path, f"record {i} has no 'global_physical_count'")
            physical = _as_int_array(record["global_physical_count"], path, f"records[{i}].global_physical_count")
            if physical.shape != placement.shape:
                raise _fail(path, f"records[{i}].global_physical_count has shape {list(physical.shape)}, "
                                  f"the placement {list(placement.shape)}")
            if physical.min(initial=0) < 0:
                raise _fail(path, f"records[{i}].global_physical_count holds negative counts")
            logical = np.zeros((placement.shape[0], experts), dtype=np.int64)
            np.add.at(logical, (np.arange(placement.shape[0])[:, None], placement), physical)
            try:
                key = int(record.get("forward_pass_id", i))
            except (TypeError, ValueError):
                raise _fail(path, f"records[{i}].forward_pass_id is not an integer") from None
            per_pass[key] = per_pass.get(key, 0) + logical
    if not per_pass:
        raise _fail(path, "per_pass dump holds no records")
    counts = np.stack([per_pass[k] for k in sorted(per_pass)])
    notes = [f"SGLang per_pass dump: {len(per_pass)} forward passes in forward_pass_id order, "
             f"{1 + len(extra)} rank file(s); counts mapped with the last physical_to_logical_map"]
    trace = _from_counts(counts, path, "sglang-per-pass", layers, notes, drop_empty_steps=True)
    trace.placement = placement[trace.layer_ids]
    return trace


def _placement_only(data: dict, path: Path, kind: str) -> Trace:
    placement = _check_placement(_as_int_array(data["physical_to_logical_map"], path, "physical_to_logical_map"),
                                 path)
    return Trace(str(path), kind, None, placement=placement, layer_ids=list(range(placement.shape[0])),
                 hidden_layers=placement.shape[0], notes=["placement only: no expert loads"])


def _from_dict(data: Any, path: Path, layers: str, kind: str, extra: Sequence[dict] = ()) -> Trace:
    if not isinstance(data, dict):
        raise _fail(path, f"expected a dict/object at the top level, got {type(data).__name__}")
    if "records" in data:
        return _sglang_per_pass(data, path, layers, extra)
    if "logical_count" in data:
        if kind == "pt":
            return _sglang_stat(data, path, layers)
        counts = _as_int_array(data["logical_count"], path, "logical_count")
        return _from_counts(counts, path, "json-logical-count", layers, [], drop_empty_steps=counts.ndim == 3)
    if "physical_to_logical_map" in data:
        return _placement_only(data, path, f"{kind}-placement")
    raise _fail(path, f"no 'logical_count', 'records' or 'physical_to_logical_map' entry "
                      f"(keys: {sorted(map(str, data))[:8]})")


def _torch_load(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, not a file") from None
    except Exception as exc:  # corrupt archive, or content the weights-only loader refuses
        if type(exc).__name__ == "UnpicklingError":
            raise _fail(path, "holds objects the weights-only loader refuses, or is not a torch.save file") from None
        raise _fail(path, f"not a readable torch.save file ({type(exc).__name__})") from None


def load_trace(path: str | Path, layers: str = "moe", rank_files: Sequence[str | Path] = ()) -> Trace:
    """Load a trace file (``.pt``, ``.json`` or ``.npz``), keeping step granularity.

    ``layers="moe"`` drops layers that carry no traffic at any step (dense layers of
    an SGLang dump, which records all hidden layers); ``layers="all"`` keeps every
    layer row. ``rank_files`` are further per_pass dumps (other ranks) to add to
    ``path``'s counts.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        windows = workloads.load_npz(path)
        notes: list[str] = []
        return _from_counts(windows, path, "npz", layers, notes, drop_empty_steps=False)
    if suffix == ".pt":
        extra = [_torch_load(Path(p)) for p in rank_files]
        return _from_dict(_torch_load(path), path, layers, "pt", extra)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise _fail(path, "file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(path, f"cannot read text ({workloads._one_line(exc)})") from None
        except json.JSONDecodeError as exc:
            raise _fail(path, f"invalid JSON ({workloads._one_line(exc)})") from None
        return _from_dict(data, path, layers, "json")
    raise _fail(path, f"unknown trace suffix {path.suffix!r} (expected .pt, .json or .npz)")
