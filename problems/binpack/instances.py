"""Online bin-packing instances: seeded generators, file loaders, the L1 bound and the named datasets.

An *instance* is a sequence of item sizes (float64, each in ``(0, capacity]``)
that arrive in that order, and a bin capacity. A *dataset* is a named list of
instances of one capacity; its figure of merit is the excess of the mean bin
count over the mean L1 bound (see :func:`excess_percent`).

Generators (deterministic for a seed, numpy ``default_rng``):

* :func:`weibull_items` — FunSearch's Weibull sets: ``floor(45 · Weibull(k=3))``
  clipped to ``[1, 100]``, capacity 100. Flooring reproduces the shipped
  FunSearch Weibull 5k set's statistics (mean 39.7, 1.5 % of items <= 10);
  rounding would shift the mean up by 0.5.
* :func:`uniform_items` — OR-Library ``binpack1``–``binpack4`` (Falkenauer's
  "u" classes OR1–OR4): integer sizes uniform in ``[20, 100]``, capacity 150,
  with 120 / 250 / 500 / 1000 items.

Loaders: the JSON records shipped in ``data/`` (:func:`load_json`), the
OR-Library text format (:func:`load_orlib`), and ``.npz`` files with ``items``
(one instance) or ``items_<k>`` arrays and a ``capacity`` scalar (:func:`load_npz`).
Anything malformed raises :class:`InstanceError` naming the file.

``python problems/binpack/instances.py`` prints every configured dataset with
its size and mean L1 bound.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent

#: The OR-Library uniform classes: number of items per instance (capacity 150, sizes 20..100).
OR_CLASSES = {"OR1": 120, "OR2": 250, "OR3": 500, "OR4": 1000}


class InstanceError(ValueError):
    """An instance file or dataset specification is malformed."""


@dataclass(frozen=True)
class Instance:
    """One online bin-packing instance: items in arrival order and the bin capacity."""

    name: str
    items: np.ndarray
    capacity: float

    def __post_init__(self) -> None:
        items = np.asarray(self.items, dtype=np.float64)
        if items.ndim != 1 or items.size == 0:
            raise InstanceError(f"instance {self.name}: items must be a non-empty 1-D sequence")
        if not (np.isfinite(items).all() and (items > 0).all() and (items <= self.capacity).all()):
            raise InstanceError(f"instance {self.name}: every item size must be in (0, capacity={self.capacity:g}]")
        object.__setattr__(self, "items", items)


@dataclass(frozen=True)
class Dataset:
    """A named list of instances (one capacity)."""

    name: str
    instances: tuple[Instance, ...]

    @property
    def mean_l1(self) -> float:
        return float(np.mean([l1_bound(i.items, i.capacity) for i in self.instances]))


def l1_bound(items: Sequence[float] | np.ndarray, capacity: float) -> int:
    """The L1 lower bound on the number of bins: ``ceil(sum(items) / capacity)``.

    >>> l1_bound([60, 50, 40], 100), l1_bound([50, 50], 100)
    (2, 1)
    """
    return int(math.ceil(float(np.sum(items)) / capacity - 1e-12))


def excess_percent(bins: Sequence[int], bounds: Sequence[int]) -> float:
    """Excess of the mean bin count over the mean L1 bound, in percent (FunSearch's figure).

    >>> excess_percent([11, 21], [10, 20])
    5.0
    """
    mean_bound = float(np.mean(bounds))
    return 100.0 * (float(np.mean(bins)) - mean_bound) / mean_bound


def weibull_items(count: int, seed: int, scale: float = 45.0, shape: float = 3.0,
                  capacity: float = 100.0) -> np.ndarray:
    """``count`` integer sizes ``floor(scale · Weibull(shape))`` clipped to ``[1, capacity]`` (float64)."""
    rng = np.random.default_rng(seed)
    return np.clip(np.floor(scale * rng.weibull(shape, size=count)), 1, capacity).astype(np.float64)


def uniform_items(count: int, seed: int, low: int = 20, high: int = 100) -> np.ndarray:
    """``count`` integer sizes uniform in ``[low, high]`` (float64), as OR-Library's u classes."""
    rng = np.random.default_rng(seed)
    return rng.integers(low, high + 1, size=count).astype(np.float64)


def generated(spec: dict[str, Any], where: str = "problem.toml") -> Dataset:
    """A dataset from a ``[[splits.<name>]]`` table of problem.toml.

    ``kind = "weibull"`` (``items``, optional ``scale``/``shape``/``capacity``) or
    ``kind = "uniform"`` (``items``, optional ``low``/``high``/``capacity``);
    ``instances`` instances, the k-th seeded with ``seed + k``.
    """
    try:
        kind, count, seed = spec["kind"], int(spec["items"]), int(spec["seed"])
        n = int(spec.get("instances", 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs kind, items and seed ({exc})") from None
    if kind == "weibull":
        capacity = float(spec.get("capacity", 100))
        make = lambda k: weibull_items(count, seed + k, float(spec.get("scale", 45)), float(spec.get("shape", 3)),
                                       capacity)
    elif kind == "uniform":
        capacity = float(spec.get("capacity", 150))
        make = lambda k: uniform_items(count, seed + k, int(spec.get("low", 20)), int(spec.get("high", 100)))
    else:
        raise InstanceError(f"{where}: dataset {spec.get('name')!r}: unknown kind {kind!r} (weibull or uniform)")
    name = str(spec.get("name", f"{kind}-{count}"))
    return Dataset(name, tuple(Instance(f"{name}/{k}", make(k), capacity) for k in range(n)))


def load_json(path: Path, name: str | None = None) -> Dataset:
    """A dataset from a JSON record ``{"name", "capacity", "instances": {name: [sizes]}}`` (see data/)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        capacity = float(record["capacity"])
        instances = tuple(Instance(str(key), np.asarray(items, dtype=np.float64), capacity)
                          for key, items in record["instances"].items())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        raise InstanceError(f"{path}: not a bin-packing dataset record: {exc}") from None
    return Dataset(name or str(record.get("name", Path(path).stem)), instances)


def load_orlib(path: Path, name: str | None = None) -> Dataset:
    """A dataset from an OR-Library ``binpackN.txt`` file.

    Format: the number of problems P, then for each problem its identifier, a
    line ``capacity n best_known``, and ``n`` item sizes (whitespace separated).
    """
    try:
        tokens = Path(path).read_text(encoding="utf-8").split()
        pos, instances = 1, []
        for _ in range(int(tokens[0])):
            ident, capacity, count = tokens[pos], float(tokens[pos + 1]), int(tokens[pos + 2])
            pos += 4
            items = np.array([float(t) for t in tokens[pos:pos + count]])
            if items.size != count:
                raise ValueError(f"problem {ident} announces {count} items, found {items.size}")
            instances.append(Instance(ident, items, capacity))
            pos += count
    except (OSError, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise InstanceError(f"{path}: not an OR-Library bin-packing file: {exc}") from None
    return Dataset(name or Path(path).stem, tuple(instances))


def load_npz(path: Path, name: str | None = None) -> Dataset:
    """A dataset from ``.npz``: ``capacity`` and ``items`` or ``items_0``, ``items_1``, … arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            capacity = float(data["capacity"])
            keys = ["items"] if "items" in data.files else sorted(
                (k for k in data.files if k.startswith("items_")), key=lambda k: int(k.split("_", 1)[1]))
            if not keys:
                raise ValueError("no 'items' or 'items_<k>' arrays")
            instances = tuple(Instance(k, data[k], capacity) for k in keys)
    except (OSError, KeyError, ValueError) as exc:
        raise InstanceError(f"{path}: not a bin-packing .npz: {exc}") from None
    return Dataset(name or Path(path).stem, instances)


def load_file(path: Path, name: str | None = None) -> Dataset:
    """Any supported file, by suffix: ``.json``, ``.npz``, else the OR-Library text format."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"{path}: no such instance file")
    if path.suffix == ".json":
        return load_json(path, name)
    if path.suffix == ".npz":
        return load_npz(path, name)
    return load_orlib(path, name)


def dataset(spec: dict[str, Any], root: Path = HERE, where: str = "problem.toml") -> Dataset:
    """A dataset from its problem.toml table: ``file = "data/…"`` (relative to ``root``) or a generator spec."""
    if "file" in spec:
        return load_file(root / str(spec["file"]), spec.get("name"))
    return generated(spec, where)


def split_datasets(problem, split: str) -> list[Dataset]:
    """The datasets of ``split`` (``train``, ``validation`` or ``test``) as ``[[splits.<split>]]`` lists them."""
    splits = problem.section("splits")
    where = str(problem.root / "problem.toml")
    if split not in splits:
        raise InstanceError(f"{where}: no [[splits.{split}]] datasets (have: {', '.join(splits) or 'none'})")
    return [dataset(spec, problem.root, where) for spec in splits[split]]


def main() -> int:
    sys.path.insert(0, str(HERE.parents[1]))
    from beam.problem import load_problem

    problem = load_problem(HERE)
    for split in problem.section("splits"):
        for data in split_datasets(problem, split):
            sizes = {i.items.size for i in data.instances}
            print(f"{split:<10} {data.name:<14} {len(data.instances):>3} instances x {sorted(sizes)} items, "
                  f"capacity {data.instances[0].capacity:g}, mean L1 {data.mean_l1:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
