"""TSP instances: the seeded uniform generator, TSPLIB files, reference lengths and the named datasets.

An *instance* is a symmetric distance matrix (float64) with a name and, when
known, a reference length (the best tour length known, see ``data/README.md``).
A *dataset* is a named list of instances plus the time limit every solver call
gets on it (``time_limit_s``).

Generator (:func:`uniform_coordinates`): ``n`` cities uniform in the unit
square, ``numpy.random.default_rng(seed).random((n, 2))``; Euclidean distances,
not rounded. Instance ``k`` of a dataset uses ``seed + k`` (the setting of
DIFUSCO's TSP-50/100/500 sets used by the paper, drawn afresh).

Files (:func:`load_file`): a TSPLIB ``.tsp`` (see ``tsplib.py``); its reference
is ``<name>.opt.tour`` beside it when present (the length of that tour), or
the published optimum of a few classic instances (:data:`KNOWN_OPTIMA`).

``python problems/tsp_gls/instances.py`` prints every configured dataset.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from beam.problem import import_by_path

HERE = Path(__file__).resolve().parent
REFERENCES = HERE / "data" / "references.json"

tsplib = import_by_path(HERE / "tsplib.py", "beam_problem_tsp_gls_tsplib")

#: Published optimal tour lengths of classic TSPLIB instances (TSPLIB95's optimal values list).
KNOWN_OPTIMA = {"eil51": 426, "berlin52": 7542, "st70": 675, "eil76": 538, "pr76": 108159, "rat99": 1211,
                "kroA100": 21282, "kroB100": 22141, "kroC100": 20749, "kroD100": 21294, "kroE100": 22068,
                "rd100": 7910, "eil101": 629, "lin105": 14379, "ch130": 6110, "ch150": 6528, "a280": 2579,
                "att48": 10628, "pcb442": 50778}


class InstanceError(ValueError):
    """An instance file or a dataset specification is malformed."""


@dataclass(frozen=True)
class Instance:
    """One TSP instance: distances, and the best known tour length (None when unknown)."""

    name: str
    distance: np.ndarray
    reference: float | None = None

    def __post_init__(self) -> None:
        d = np.asarray(self.distance, dtype=np.float64)
        if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 3:
            raise InstanceError(f"instance {self.name}: distance must be a square matrix of at least 3 cities")
        if not (np.isfinite(d).all() and (d >= 0).all() and np.allclose(d, d.T)):
            raise InstanceError(f"instance {self.name}: distances must be finite, >= 0 and symmetric")
        object.__setattr__(self, "distance", d)

    @property
    def cities(self) -> int:
        return len(self.distance)


@dataclass(frozen=True)
class Dataset:
    """A named list of instances, solved with ``time_limit_s`` seconds per instance."""

    name: str
    instances: tuple[Instance, ...]
    time_limit_s: float


def uniform_coordinates(cities: int, seed: int) -> np.ndarray:
    """``xy [cities, 2]``: uniform random points in the unit square, deterministic for ``seed``."""
    return np.random.default_rng(seed).random((cities, 2))


def euclidean(xy: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix ``[n, n]`` of points ``xy [n, 2]`` (float64, not rounded)."""
    diff = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((diff * diff).sum(axis=-1))


def uniform_key(cities: int, seed: int) -> str:
    """Key of a generated instance in ``data/references.json``."""
    return f"uniform-{cities}-{seed}"


def fingerprint(distance: np.ndarray) -> str:
    """Short hash of a distance matrix (guards cached references against a changed generator)."""
    return hashlib.sha256(np.round(distance, 9).tobytes()).hexdigest()[:16]


def load_references(path: Path = REFERENCES) -> dict[str, Any]:
    """The cached references: ``{key: {"length", "fingerprint", "tour", "method"}}`` (empty when absent)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InstanceError(f"{path}: not a readable JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise InstanceError(f"{path}: must hold a JSON object keyed by instance")
    return data


def generated(spec: dict[str, Any], references: dict[str, Any] | None = None,
              where: str = "problem.toml") -> Dataset:
    """The dataset a ``kind = "uniform"`` table of problem.toml describes (``cities``, ``instances``, ``seed``,
    ``time_limit_s``); references come from ``data/references.json`` when cached for the same distances."""
    try:
        cities, count, seed = int(spec["cities"]), int(spec["instances"]), int(spec["seed"])
        limit = float(spec["time_limit_s"])
    except (KeyError, TypeError, ValueError):
        raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs integer cities, instances, seed "
                            f"and a number time_limit_s") from None
    if spec.get("kind", "uniform") != "uniform":
        raise InstanceError(f"{where}: dataset {spec.get('name')!r}: unknown kind {spec.get('kind')!r} (use 'uniform')")
    if cities < 5 or count < 1 or limit <= 0:
        raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs cities >= 5, instances >= 1, time_limit_s > 0")
    refs = load_references() if references is None else references
    items = []
    for k in range(count):
        d = euclidean(uniform_coordinates(cities, seed + k))
        cached = refs.get(uniform_key(cities, seed + k))
        ref = float(cached["length"]) if cached and cached.get("fingerprint") == fingerprint(d) else None
        items.append(Instance(uniform_key(cities, seed + k), d, ref))
    return Dataset(str(spec.get("name", f"TSP-{cities}")), tuple(items), limit)


def load_file(path: Path, time_limit_s: float = 10.0) -> Dataset:
    """A one-instance dataset from a TSPLIB ``.tsp`` file; InstanceError naming the file when it is bad."""
    path = Path(path)
    try:
        name, distance = tsplib.read_tsp(path)
        reference = None
        tour_file = path.with_name(path.name.removesuffix(".tsp") + ".opt.tour")
        if tour_file.exists():
            tour = tsplib.read_tour(tour_file, len(distance))
            reference = float(distance[tour, np.roll(tour, -1)].sum())
        elif name in KNOWN_OPTIMA:
            reference = float(KNOWN_OPTIMA[name])
        return Dataset(name, (Instance(name, distance, reference),), time_limit_s)
    except tsplib.TsplibError as exc:
        raise InstanceError(str(exc)) from None
    except InstanceError as exc:
        raise InstanceError(f"{path}: {exc}") from None


def dataset(spec: dict[str, Any], root: Path = HERE, where: str = "problem.toml") -> Dataset:
    """One dataset table of problem.toml: ``file = "..."`` (TSPLIB, relative to the folder) or a generator."""
    if "file" in spec:
        data = load_file(root / spec["file"], float(spec.get("time_limit_s", 10.0)))
        return Dataset(str(spec.get("name", data.name)), data.instances, data.time_limit_s)
    return generated(spec, where=where)


def split_datasets(problem, split: str) -> list[Dataset]:
    """The datasets of ``[[splits.<split>]]`` in the problem's problem.toml."""
    specs = problem.config.get("splits", {}).get(split)
    where = str(problem.root / "problem.toml")
    if not isinstance(specs, list) or not specs:
        raise InstanceError(f"{where}: no [[splits.{split}]] datasets")
    return [dataset(s, problem.root, where) for s in specs]


def main() -> int:
    """Print every dataset of problem.toml with its size, time limit and how many references are cached."""
    from beam.problem import load_problem
    problem = load_problem(HERE)
    for split in ("train", "validation", "test"):
        for data in split_datasets(problem, split):
            known = sum(i.reference is not None for i in data.instances)
            print(f"{split:10s} {data.name:18s} {len(data.instances):3d} x {data.instances[0].cities:4d} cities, "
                  f"{data.time_limit_s:g} s each, {known} references cached")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
