"""CVRP instances: the seeded generator, VRPLIB loading, named datasets and their time limits.

An *instance* is ``coords [n+1, 2]`` (row 0 the depot), integer ``demands
[n+1]`` (``demands[0] == 0``) and a vehicle ``capacity``; the fleet is
unlimited and the cost of a route is its Euclidean length (floats, no
rounding). A *dataset* is a named list of instances with the per-instance
``time_limit_s`` the solver is given.

Generator (:func:`random_instance`, numpy ``default_rng(seed)``): the depot and
the ``n`` customers uniform in the unit square, demands uniform integers in
``1..9``, capacity by size (:data:`CAPACITY`): 50 for 100 customers (Nazari et
al. / Kool et al.), 80 for 200 and 100 for 500 (the capacities of the CVRP-200
and CVRP-500 sets of the neural-CO papers the BEAM paper follows; their HGS
costs match the paper's HGS column, see the README). Instance k of a
generated dataset uses ``seed + k``.

Loader (:func:`load_vrplib`): a CVRP file in VRPLIB format through the
``vrplib`` package (``NODE_COORD_SECTION``, ``DEMAND_SECTION``,
``CAPACITY``, ``DEPOT_SECTION``; one depot, moved to index 0). Costs stay
Euclidean floats (CVRPLIB's X set rounds each edge; gaps here do not).
Anything malformed raises :class:`InstanceError` naming the file.

``python problems/cvrp/instances.py`` lists the configured datasets.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

#: Vehicle capacity per number of customers for generated instances.
CAPACITY = {20: 30, 50: 40, 100: 50, 200: 80, 500: 100, 1000: 250}


class InstanceError(ValueError):
    """An instance file or dataset specification is malformed."""


@dataclass(frozen=True)
class Instance:
    """One CVRP instance: depot + customer coordinates, demands (0 for the depot) and the capacity."""

    name: str
    coords: np.ndarray
    demands: np.ndarray
    capacity: float

    def __post_init__(self) -> None:
        coords = np.asarray(self.coords, dtype=np.float64)
        demands = np.asarray(self.demands, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 2 or coords.shape[0] < 2:
            raise InstanceError(f"instance {self.name}: coords must be [n+1, 2] with n >= 1")
        if demands.shape != (coords.shape[0],):
            raise InstanceError(f"instance {self.name}: demands must have one entry per node ({coords.shape[0]})")
        if not (np.isfinite(coords).all() and np.isfinite(demands).all()):
            raise InstanceError(f"instance {self.name}: coordinates and demands must be finite")
        if demands[0] != 0 or (demands[1:] <= 0).any():
            raise InstanceError(f"instance {self.name}: the depot's demand must be 0 and every customer's positive")
        if not self.capacity > 0 or (demands > self.capacity).any():
            raise InstanceError(f"instance {self.name}: every demand must fit the capacity {self.capacity:g}")
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "demands", demands)
        object.__setattr__(self, "capacity", float(self.capacity))

    @property
    def customers(self) -> int:
        return int(self.coords.shape[0] - 1)

    def fingerprint(self) -> str:
        """A short hash of the data, to match cached reference solutions to instances."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.coords).tobytes())
        h.update(np.ascontiguousarray(self.demands).tobytes())
        h.update(repr(self.capacity).encode())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class Dataset:
    """A named list of instances and the time limit per instance."""

    name: str
    instances: tuple[Instance, ...]
    time_limit_s: float


def random_instance(customers: int, seed: int, capacity: float | None = None, name: str | None = None) -> Instance:
    """A uniform random instance: depot and customers in the unit square, demands in ``1..9``.

    >>> inst = random_instance(100, seed=0)
    >>> inst.coords.shape, inst.capacity, int(inst.demands.min()), int(inst.demands[1:].min()) >= 1
    ((101, 2), 50.0, 0, True)
    """
    if capacity is None:
        if customers not in CAPACITY:
            raise InstanceError(f"no default capacity for {customers} customers; give capacity = ...")
        capacity = CAPACITY[customers]
    rng = np.random.default_rng(seed)
    coords = rng.random((customers + 1, 2))
    demands = np.concatenate(([0], rng.integers(1, 10, size=customers))).astype(np.float64)
    return Instance(name or f"cvrp{customers}-s{seed}", coords, demands, float(capacity))


def load_vrplib(path: Path) -> Instance:
    """A CVRP instance from a VRPLIB file (EUC_2D coordinates, one depot), depot moved to index 0."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"{path}: no such instance file")
    try:
        import vrplib
    except ImportError:  # pragma: no cover - the package is a declared dependency
        raise InstanceError(f"{path}: reading VRPLIB files needs the 'vrplib' package (pip install vrplib)") from None
    try:
        data = vrplib.read_instance(str(path))
    except Exception as exc:  # the parser raises many kinds on bad input
        raise InstanceError(f"{path}: not a VRPLIB file: {type(exc).__name__}: {exc}") from None
    try:
        for key in ("node_coord", "demand", "capacity"):
            if key not in data:
                raise InstanceError(f"{path}: missing {key.upper()} (a CVRP needs coordinates, demands and capacity)")
        coords = np.asarray(data["node_coord"], dtype=np.float64)
        demands = np.asarray(data["demand"], dtype=np.float64).reshape(-1)
        depots = np.asarray(data.get("depot", [0]), dtype=np.int64).reshape(-1)
        if depots.size != 1:
            raise InstanceError(f"{path}: exactly one depot is supported, found {depots.size}")
        d = int(depots[0])
        if not 0 <= d < len(coords):
            raise InstanceError(f"{path}: depot {d} is not a node")
        order = np.concatenate(([d], np.delete(np.arange(len(coords)), d)))
        return Instance(str(data.get("name", path.stem)), coords[order], demands[order], float(data["capacity"]))
    except InstanceError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise InstanceError(f"{path}: {exc}") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise InstanceError(f"{path}: malformed CVRP data: {exc}") from None


def generated(spec: dict[str, Any], where: str = "problem.toml") -> Dataset:
    """A dataset from a ``[[splits.<name>]]`` table: ``customers``, ``instances``, ``seed``, ``time_limit_s``
    (optional ``capacity``)."""
    try:
        customers, seed = int(spec["customers"]), int(spec["seed"])
        count, limit = int(spec.get("instances", 1)), float(spec["time_limit_s"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs customers, seed and time_limit_s "
                            f"({exc})") from None
    name = str(spec.get("name", f"CVRP-{customers}"))
    cap = spec.get("capacity")
    made = tuple(random_instance(customers, seed + k, None if cap is None else float(cap), f"{name}/{k}")
                 for k in range(count))
    return Dataset(name, made, limit)


def dataset(spec: dict[str, Any], root: Path = HERE, where: str = "problem.toml") -> Dataset:
    """A dataset from its problem.toml table: ``files = ["data/x.vrp", ...]`` or a generator spec."""
    if "files" in spec:
        try:
            limit = float(spec["time_limit_s"])
        except (KeyError, TypeError, ValueError):
            raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs time_limit_s") from None
        return Dataset(str(spec.get("name", "files")), tuple(load_vrplib(root / f) for f in spec["files"]), limit)
    return generated(spec, where)


def file_dataset(path: Path, time_limit_s: float) -> Dataset:
    """One VRPLIB file as a dataset of one instance."""
    inst = load_vrplib(Path(path))
    return Dataset(inst.name, (inst,), float(time_limit_s))


def split_datasets(problem, split: str) -> list[Dataset]:
    """The datasets of ``split`` (train, validation or test) as ``[[splits.<split>]]`` lists them."""
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
            sizes = sorted({i.customers for i in data.instances})
            print(f"{split:<10} {data.name:<18} {len(data.instances):>2} instances x {sizes} customers, "
                  f"capacity {data.instances[0].capacity:g}, {data.time_limit_s:g} s each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
