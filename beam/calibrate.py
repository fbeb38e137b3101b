"""Calibration: CMA-ES over a program's ``#Hyperparameter#`` block (BEAM §III-B).

The generator proposes a test range per hyperparameter; CMA-ES then searches
those ranges. Following DESIGN.md, :class:`Calibrator` only proposes and
receives results (``ask`` / ``tell``, as in pycma); the engine evaluates.
:func:`calibrate` is a small async driver for callers without their own loop.

Search happens in the unit cube ``[0, 1]^d``: coordinate ``i`` maps linearly
onto parameter ``i``'s range, ``# int`` parameters are rounded to the nearest
integer in range, floats to 6 significant digits. ``MAX_TIME`` is never tuned.

>>> import asyncio
>>> src = "#Hyperparameter#\\nMAX_TIME = 1.0\\nX = 3  # int\\n#Hyperparameter#\\n"
>>> async def score(s):
...     return -abs(Program.parse(s).hyperparameters()["X"].value - 7)
>>> result = asyncio.run(calibrate(src, {"X": (0, 10)}, score, CalibrationConfig(budget=12, seed=1)))
>>> result.fitness >= result.start_fitness
True
"""
from __future__ import annotations

import asyncio
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping, Sequence

import numpy as np

from beam.program import MAX_TIME, Hyperparameter, Program

with warnings.catch_warnings():  # pycma warns when matplotlib is missing; plotting is never used here
    warnings.simplefilter("ignore")
    import cma

Range = tuple[float, float]
Values = dict[str, int | float]
Evaluate = Callable[[str], Awaitable[float | None]]

MAX_DEFAULT_POPSIZE = 6
SHARE_MIN = 0.05
"""Floats in ``[SHARE_MIN, 1)`` are taken for shares / probabilities by :func:`default_range`."""


@dataclass(frozen=True)
class CalibrationConfig:
    """Budget and CMA-ES settings of one calibration."""

    budget: int = 12
    """Most programs proposed (the start program included)."""
    popsize: int | None = None
    """Programs per batch; None: pycma's default, at most :data:`MAX_DEFAULT_POPSIZE`."""
    sigma0: float = 0.25
    """Initial step size in the normalised cube."""
    seed: int | None = None
    """Seed of the sampler; None draws fresh entropy."""
    include_start: bool = True
    """Evaluate the unmodified program as part of the first batch."""

    def __post_init__(self) -> None:
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0, got {self.budget}")
        if self.popsize is not None and self.popsize < 2:
            raise ValueError(f"popsize must be >= 2, got {self.popsize}")
        if not (math.isfinite(self.sigma0) and self.sigma0 > 0):
            raise ValueError(f"sigma0 must be a positive number, got {self.sigma0}")


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`calibrate`."""

    source: str
    fitness: float | None
    start_fitness: float | None
    evaluations: int
    changed: dict[str, tuple[int | float, int | float]] = field(default_factory=dict)
    """Name -> (old, new) for every hyperparameter whose value differs in :attr:`source`."""
    ignored: dict[str, str] = field(default_factory=dict)


def default_range(h: Hyperparameter) -> Range:
    """A test range for ``h`` when the generator gave none.

    * int ``v > 0``: ``(max(1, v // 2), 2v + 1)``; int ``0``: ``(0, 2)``;
      int ``v < 0``: the mirror image of ``-v``'s range;
    * float ``v`` in ``[0.05, 1)`` (shares, probabilities, decay factors): ``(0, 1)``;
    * other float ``v > 0``: ``(v / 4, 4v)``; ``v < 0``: ``(4v, v / 4)``; ``0.0``: ``(-1, 1)``.

    Tiny positive floats (tolerances such as ``1e-3``) and ``1.0`` (a neutral
    scale) get the multiplicative range, which keeps them inside it. A range the
    skeleton declares (``# range LO HI``) is used as it is.
    """
    if h.bounds is not None:
        return h.bounds
    v = h.value
    if h.is_int:
        v = int(round(v))
        if v == 0:
            return (0, 2)
        lo, hi = max(1, abs(v) // 2), 2 * abs(v) + 1
        return (lo, hi) if v > 0 else (-hi, -lo)
    v = float(v)
    if v == 0:
        return (-1.0, 1.0)
    if SHARE_MIN <= v < 1:
        return (0.0, 1.0)
    return (v / 4, 4 * v) if v > 0 else (4 * v, v / 4)


def _as_range(value: object) -> Range | None:
    """``(lo, hi)`` from two finite numbers (swapped when reversed), else None."""
    try:
        lo, hi = value  # type: ignore[misc]
    except (TypeError, ValueError):
        return None
    if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in (lo, hi)):
        return None
    return (min(lo, hi), max(lo, hi))


def _finite(value: float | None) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class _Param:
    """One searched (or fixed) hyperparameter and its range."""

    name: str
    is_int: bool
    lo: float
    hi: float

    @property
    def fixed(self) -> bool:
        return self.lo == self.hi

    def decode(self, x: float) -> int | float:
        """Value of unit coordinate ``x``."""
        value = self.lo + min(max(float(x), 0.0), 1.0) * (self.hi - self.lo)
        if self.is_int:
            return min(max(math.floor(value + 0.5), int(self.lo)), int(self.hi))
        return min(max(float(f"{value:.6g}"), self.lo), self.hi)

    def encode(self, value: float) -> float:
        """Unit coordinate of ``value`` (clamped into the range)."""
        return 0.0 if self.fixed else min(max((value - self.lo) / (self.hi - self.lo), 0.0), 1.0)


class Calibrator:
    """CMA-ES proposer over a program's hyperparameters; the caller evaluates.

    Fitness is *higher is better*; ``None`` (or a non-finite value) marks an
    invalid program and is told to CMA-ES as worse than every valid one seen.
    """

    def __init__(self, program_source: str, ranges: Mapping[str, object] | None = None,
                 config: CalibrationConfig | None = None) -> None:
        self.config = config or CalibrationConfig()
        self.start = Program.parse(program_source)
        self.start_source = str(self.start)
        hypers = {n: h for n, h in self.start.hyperparameters().items() if n != MAX_TIME}
        ranges = dict(ranges or {})
        self.ignored: dict[str, str] = {}
        """Names of ``ranges`` that were not used, with why."""
        for name in ranges:
            if name == MAX_TIME:
                self.ignored[name] = "MAX_TIME is the time limit, never tuned"
            elif name not in hypers:
                self.ignored[name] = "not a hyperparameter of the program"
        params: list[_Param] = []
        for name, h in hypers.items():
            bounds = _as_range(ranges[name]) if name in ranges else None
            if name in ranges and bounds is None:
                self.ignored[name] = f"malformed range {ranges[name]!r}; the default range is used"
            elif bounds is not None and h.bounds is not None and bounds != h.bounds:
                self.ignored[name] = f"the skeleton declares range {h.bounds}; the generator's {bounds} is not used"
                bounds = None
            lo, hi = bounds or default_range(h)
            if h.is_int:
                mid = (lo + hi) / 2
                lo, hi = math.ceil(lo), math.floor(hi)
                if lo > hi:  # no integer inside: fix at the one nearest the middle
                    lo = hi = math.floor(mid + 0.5)
            params.append(_Param(name, h.is_int, lo, hi))
        self.params = params
        self.free = [p for p in params if not p.fixed]
        self.start_values: Values = {p.name: hypers[p.name].value for p in params}
        self.history: list[tuple[Values, float | None]] = []
        self._best: tuple[str, float | None] = (self.start_source, None)
        self._worst: float | None = None
        self._top: float | None = None
        self._pending: list[tuple[str, Values, np.ndarray | None]] | None = None
        self._asked = 0
        self._first = True
        self._complete = False
        self._es = self._strategy() if self.free else None

    def _strategy(self) -> cma.CMAEvolutionStrategy:
        # pycma needs d >= 2: one free parameter gets an inert second coordinate
        x0 = [p.encode(self.start_values[p.name]) for p in self.free]
        if len(x0) == 1:
            x0.append(0.5)
        rng = np.random.default_rng(self.config.seed)  # own stream: no use of numpy's global state
        opts = {"bounds": [0, 1], "verbose": -9, "randn": lambda *shape: rng.standard_normal(shape),
                "tolfun": 0, "tolfunhist": 0, "tolflatfitness": 10}  # plateaus from rounding are no reason to stop
        popsize = self.config.popsize
        if popsize is None:
            popsize = min(int(4 + 3 * math.log(len(x0))), MAX_DEFAULT_POPSIZE)
        opts["popsize"] = popsize
        es = cma.CMAEvolutionStrategy(x0, self.config.sigma0, opts)
        if self.config.include_start:
            es.inject([x0], force=True)
        return es

    # -- state

    @property
    def evaluations(self) -> int:
        """Programs told so far."""
        return len(self.history)

    @property
    def done(self) -> bool:
        """True when the budget is spent, CMA-ES has stopped, or there is nothing to search."""
        if self._es is None or self.evaluations >= self.config.budget:
            return True
        return self._pending is None and bool(self._es.stop())

    def best(self) -> tuple[str, float | None]:
        """Best valid program and fitness seen; the start program (fitness None) when none was valid."""
        return self._best

    def values_of(self, x: Sequence[float]) -> Values:
        """Hyperparameter values of a unit-cube point (fixed parameters included)."""
        coords = iter(x)
        return {p.name: p.decode(0.0) if p.fixed else p.decode(next(coords)) for p in self.params}

    # -- ask / tell

    def ask(self) -> list[str]:
        """Program sources of the next batch (at most the remaining budget; empty when done)."""
        if self._pending is not None:
            raise RuntimeError("tell the pending batch before asking for another")
        if self.done:
            return []
        room = self.config.budget - self._asked
        xs = self._es.ask()
        batch: list[tuple[str, Values, np.ndarray | None]] = []
        for k, x in enumerate(xs[:room]):
            if k == 0 and self._first and self.config.include_start:
                batch.append((self.start_source, dict(self.start_values), x))
                continue
            values = self.values_of(x[:len(self.free)])
            batch.append((str(self.start.with_hyperparameters(values)), values, x))
        self._first = False
        self._complete = len(batch) == len(xs)  # a batch cut by the budget is never told to CMA-ES
        self._pending = batch
        self._asked += len(batch)
        return [source for source, _, _ in batch]

    def tell(self, sources: Sequence[str], fitness: Sequence[float | None]) -> None:
        """Results of the pending batch, in any order; duplicate sources may be told once or each time."""
        if self._pending is None:
            raise RuntimeError("nothing was asked")
        if len(sources) != len(fitness):
            raise ValueError(f"{len(sources)} sources but {len(fitness)} fitness values")
        told: dict[str, list[float | None]] = {}
        for source, value in zip(sources, fitness):
            told.setdefault(source, []).append(_finite(value))
        asked = {source for source, _, _ in self._pending}
        if set(told) != asked:
            raise ValueError("tell() needs the sources of the pending batch, each at least once")
        used: dict[str, int] = {}
        results: list[float | None] = []
        for source, _, _ in self._pending:
            values = told[source]
            k = used.get(source, 0)
            results.append(values[min(k, len(values) - 1)])
            used[source] = k + 1
        batch, self._pending = self._pending, None
        for (source, values, _), value in zip(batch, results):
            self.history.append((values, value))
            if value is not None:
                if self._best[1] is None or value > self._best[1]:
                    self._best = (source, value)
                self._worst = value if self._worst is None else min(self._worst, value)
                self._top = value if self._top is None else max(self._top, value)
        if self._complete:
            penalty = 0.0 if self._worst is None else self._worst - 1.0 - (self._top - self._worst)
            self._es.tell([x for _, _, x in batch], [-(penalty if v is None else v) for v in results])


async def calibrate(program_source: str, ranges: Mapping[str, object] | None, evaluate: Evaluate,
                    config: CalibrationConfig | None = None) -> CalibrationResult:
    """Calibrate ``program_source`` with ``evaluate`` (source -> fitness or None), one batch at a time."""
    calibrator = Calibrator(program_source, ranges, config)
    start_fitness: float | None = None
    while not calibrator.done:
        batch = calibrator.ask()
        if not batch:
            break
        fitness = list(await asyncio.gather(*(evaluate(source) for source in batch)))
        if calibrator.evaluations == 0 and calibrator.config.include_start:
            start_fitness = _finite(fitness[0])
        calibrator.tell(batch, fitness)
    source, fitness = calibrator.best()
    old = calibrator.start.hyperparameters()
    new = Program.parse(source).hyperparameters()
    changed = {n: (old[n].value, new[n].value) for n in old if new[n].value != old[n].value}
    return CalibrationResult(source, fitness, start_fitness, calibrator.evaluations, changed, dict(calibrator.ignored))
