"""BBOB-style problem instances: which function, instance, dimension and budget each run gets.

A *run* is one optimisation: a function (``bbob:<fid>`` for the 24 noiseless
BBOB functions of the ``ioh`` package, or ``ackley`` / ``griewank``, written
here because ``ioh`` does not ship them), an instance id, a dimension ``d``,
an evaluation budget and the seed handed to the candidate. The search box is
``[-5, 5]^d`` for every function (BBOB's box).

Our Ackley and Griewank follow BBOB's recipe: ``f(x) = g(s * R (x - x_opt))``
with ``x_opt`` uniform in ``[-4, 4]^d`` and ``R`` a random rotation (QR of a
Gaussian matrix), both drawn from ``numpy.random.default_rng`` seeded by
``(function, instance, d)``; ``s`` maps the box onto the function's usual
domain (Ackley: 32.768 / 5, Griewank: 600 / 5); ``f_opt = 0``.

Datasets are ``[[splits.<split>]]`` tables of problem.toml (see
:func:`split_datasets`), or a JSON file a user gives (:func:`load_file`).
``python problems/bbob/instances.py`` lists the configured datasets.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

LOWER, UPPER = -5.0, 5.0
OWN_FUNCTIONS = ("ackley", "griewank")
BBOB_NAMES = {1: "Sphere", 2: "Ellipsoid", 3: "Rastrigin", 4: "Bueche-Rastrigin", 5: "Linear slope",
              6: "Attractive sector", 7: "Step ellipsoid", 8: "Rosenbrock", 9: "Rosenbrock rotated",
              10: "Ellipsoid rotated", 11: "Discus", 12: "Bent cigar", 13: "Sharp ridge", 14: "Different powers",
              15: "Rastrigin rotated", 16: "Weierstrass", 17: "Schaffers F7", 18: "Schaffers F7 ill-cond.",
              19: "Griewank-Rosenbrock", 20: "Schwefel", 21: "Gallagher 101", 22: "Gallagher 21",
              23: "Katsuura", 24: "Lunacek bi-Rastrigin"}


class InstanceError(ValueError):
    """A run specification or a dataset file is malformed."""


@dataclass(frozen=True)
class Run:
    """One optimisation run: the candidate gets ``dim``, the box, ``budget`` and ``seed``, never the rest."""

    function: str
    instance: int
    dim: int
    budget: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.function}/i{self.instance}/d{self.dim}"


@dataclass(frozen=True)
class Dataset:
    name: str
    runs: tuple[Run, ...]


@dataclass
class Objective:
    """A host-side objective: ``f(points [n, d]) -> values [n]`` and its optimum value ``f_opt``."""

    f: Callable[[np.ndarray], np.ndarray]
    f_opt: float
    label: str


def function_label(function: str) -> str:
    """Human name of a function key: ``bbob:3`` -> ``Rastrigin (f3)``, ``ackley`` -> ``Ackley``."""
    if function in OWN_FUNCTIONS:
        return function.capitalize()
    return f"{BBOB_NAMES[_fid(function)]} (f{_fid(function)})"


def _fid(function: str) -> int:
    if not function.startswith("bbob:"):
        raise InstanceError(f"unknown function {function!r}; use bbob:1..bbob:24, ackley or griewank")
    try:
        fid = int(function.split(":", 1)[1])
    except ValueError:
        raise InstanceError(f"unknown function {function!r}; use bbob:1..bbob:24, ackley or griewank") from None
    if fid not in BBOB_NAMES:
        raise InstanceError(f"unknown function {function!r}; BBOB ids are 1..24")
    return fid


def _transform(function: str, instance: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x_opt [d], R [d, d])`` of an own function's instance (deterministic)."""
    tag = OWN_FUNCTIONS.index(function) + 1
    rng = np.random.default_rng([tag, instance, dim])
    x_opt = rng.uniform(-4.0, 4.0, size=dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return x_opt, q * np.sign(np.diag(r))


def ackley(z: np.ndarray) -> np.ndarray:
    """Ackley's function of rows ``z [n, d]`` (a=20, b=0.2, c=2 pi); 0 at the origin.

    >>> float(ackley(np.zeros((1, 3)))[0]) == 0.0
    True
    """
    d = z.shape[1]
    first = -20.0 * np.exp(-0.2 * np.sqrt((z ** 2).sum(axis=1) / d))
    second = -np.exp(np.cos(2 * np.pi * z).sum(axis=1) / d)
    return np.maximum(first + second + 20.0 + np.e, 0.0)


def griewank(z: np.ndarray) -> np.ndarray:
    """Griewank's function of rows ``z [n, d]``: ``1 + sum z^2 / 4000 - prod cos(z_i / sqrt(i))``; 0 at the origin.

    >>> float(griewank(np.zeros((1, 3)))[0])
    0.0
    """
    i = np.arange(1, z.shape[1] + 1)
    return 1.0 + (z ** 2).sum(axis=1) / 4000.0 - np.prod(np.cos(z / np.sqrt(i)), axis=1)


SCALES = {"ackley": (ackley, 32.768 / 5.0), "griewank": (griewank, 600.0 / 5.0)}


def objective(run: Run) -> Objective:
    """The host-side objective of ``run`` (builds the ``ioh`` problem for BBOB functions)."""
    if run.function in OWN_FUNCTIONS:
        x_opt, rotation = _transform(run.function, run.instance, run.dim)
        g, scale = SCALES[run.function]
        return Objective(lambda x: g(scale * (np.atleast_2d(x) - x_opt) @ rotation.T), 0.0,
                         function_label(run.function))
    import ioh  # lazily: only this problem needs it

    problem = ioh.get_problem(_fid(run.function), run.instance, run.dim, ioh.ProblemClass.BBOB)
    return Objective(lambda x: np.asarray(problem(np.atleast_2d(x)), dtype=np.float64), float(problem.optimum.y),
                     function_label(run.function))


def _ints(spec: dict, key: str, where: str) -> list[int]:
    value = spec.get(key)
    if isinstance(value, int):
        value = [value]
    if not (isinstance(value, list) and value and all(isinstance(v, int) and v > 0 for v in value)):
        raise InstanceError(f"{where}: dataset {spec.get('name')!r}: {key} must be a positive integer "
                            f"or a list of them")
    return value


def datasets_from(spec: dict[str, Any], default_budget_per_dim: int, where: str = "problem.toml") -> list[Dataset]:
    """Datasets of one ``[[splits.*]]`` table: one per function of ``functions`` (or ``function``).

    Keys: ``functions`` (keys as in :func:`objective`), ``dims``, ``instances``
    (ids), ``seed`` (run k of a dataset gets ``seed + k``), optional
    ``budget_per_dim`` and ``name`` (``{function}`` is replaced by the function's label).
    """
    functions = spec.get("functions", [spec["function"]] if "function" in spec else None)
    if not (isinstance(functions, list) and functions and all(isinstance(f, str) for f in functions)):
        raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs functions = [\"bbob:1\", ...]")
    for function in functions:
        if function not in OWN_FUNCTIONS:
            try:
                _fid(function)
            except InstanceError as exc:
                raise InstanceError(f"{where}: dataset {spec.get('name')!r}: {exc}") from None
    dims, ids = _ints(spec, "dims", where), _ints(spec, "instances", where)
    per_dim = spec.get("budget_per_dim", default_budget_per_dim)
    seed = spec.get("seed", 0)
    if not isinstance(per_dim, int) or per_dim < 1 or not isinstance(seed, int):
        raise InstanceError(f"{where}: dataset {spec.get('name')!r}: budget_per_dim and seed must be integers")
    template = str(spec.get("name", "{function}"))
    out = []
    for function in functions:
        runs = [Run(function, iid, dim, per_dim * dim, seed + k)
                for k, (dim, iid) in enumerate((d, i) for d in dims for i in ids)]
        out.append(Dataset(template.replace("{function}", function_label(function)), tuple(runs)))
    return out


def split_datasets(problem, split: str) -> list[Dataset]:
    """Every dataset of ``[[splits.<split>]]`` in problem.toml."""
    where = str(problem.root / "problem.toml")
    specs = problem.config.get("splits", {}).get(split)
    if not isinstance(specs, list) or not specs:
        raise InstanceError(f"{where}: no [[splits.{split}]] datasets")
    per_dim = int(problem.config["problem"].get("budget_per_dim", 2000))
    found = [d for spec in specs for d in datasets_from(spec, per_dim, where)]
    names = [d.name for d in found]
    if len(set(names)) != len(names):
        raise InstanceError(f"{where}: dataset names of split {split!r} repeat: {names}")
    return found


def load_file(path: Path, default_budget_per_dim: int = 2000) -> list[Dataset]:
    """Datasets from a JSON file: a list of tables shaped like the ``[[splits.*]]`` ones.

    >>> # [{"functions": ["bbob:1", "ackley"], "dims": [5], "instances": [1, 2], "seed": 7}]
    """
    path = Path(path)
    try:
        specs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InstanceError(f"{path}: not valid JSON: {exc}") from None
    if not (isinstance(specs, list) and specs and all(isinstance(s, dict) for s in specs)):
        raise InstanceError(f"{path}: expected a non-empty JSON list of dataset tables")
    return [d for spec in specs for d in datasets_from(spec, default_budget_per_dim, str(path))]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from beam.problem import load_problem

    prob = load_problem(Path(__file__).resolve().parent)
    for split in ("train", "validation", "test"):
        for data in split_datasets(prob, split):
            dims = sorted({r.dim for r in data.runs})
            print(f"{split:10s} {data.name:32s} runs {len(data.runs):3d} dims {dims} "
                  f"budget {data.runs[0].budget // data.runs[0].dim}/dim")
