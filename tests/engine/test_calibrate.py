"""Tests of beam/calibrate.py: CMA-ES calibration of the #Hyperparameter# block, ask/tell and driver."""
from __future__ import annotations

import asyncio
import doctest

import numpy as np
import pytest

import beam.calibrate
import beam.program
from beam.calibrate import CalibrationConfig, Calibrator, calibrate, default_range
from beam.program import Hyperparameter, Program

TOY = '''"""Toy solver."""
import math

#Hyperparameter#
MAX_TIME = 0.5
X = 2  # int
Y = 0.8
#Hyperparameter#


def solve(a):
    return math.floor(a * X + Y)
'''
ONE = TOY.replace("Y = 0.8\n", "")
NONE = TOY.replace("X = 2  # int\nY = 0.8\n", "")
RANGES = {"X": (0, 12), "Y": (0.0, 1.0)}


def values(source: str) -> dict[str, int | float]:
    return {n: h.value for n, h in Program.parse(source).hyperparameters().items()}


def toy_fitness(source: str) -> float:
    v = values(source)
    return -(v["X"] - 7) ** 2 - (v.get("Y", 0.3) - 0.3) ** 2


async def toy_evaluate(source: str) -> float:
    return toy_fitness(source)


def run(source: str = TOY, ranges=RANGES, evaluate=toy_evaluate, **config):
    return asyncio.run(calibrate(source, ranges, evaluate, CalibrationConfig(**config)))


def drive(calibrator: Calibrator, fitness=toy_fitness) -> list[list[str]]:
    """Run the ask/tell loop by hand; returns every batch asked."""
    batches = []
    while not calibrator.done:
        batch = calibrator.ask()
        batches.append(batch)
        calibrator.tell(batch, [fitness(s) for s in batch])
    return batches


# ------------------------------------------------------------------ search


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_moves_towards_optimum_and_never_worse_than_start(seed: int) -> None:
    result = run(seed=seed, budget=24)
    assert result.start_fitness == toy_fitness(TOY) == -25.25
    assert result.fitness == toy_fitness(result.source) > result.start_fitness + 15
    assert result.evaluations == 24
    assert set(result.changed) <= {"X", "Y"} and result.changed["X"][0] == 2


def test_best_is_start_when_nothing_beats_it() -> None:
    at_optimum = TOY.replace("X = 2", "X = 7").replace("Y = 0.8", "Y = 0.3")
    result = run(at_optimum, seed=1)
    assert result.source == at_optimum and result.fitness == 0.0 and result.changed == {}


def test_asked_sources_keep_types_and_max_time() -> None:
    batches = drive(Calibrator(TOY, RANGES, CalibrationConfig(seed=5, budget=18)))
    sources = [s for b in batches for s in b]
    assert sources[0] == TOY
    for source in sources:
        hp = Program.parse(source).hyperparameters()
        assert hp["MAX_TIME"] == Hyperparameter("MAX_TIME", 0.5, False)
        assert hp["X"].is_int and isinstance(hp["X"].value, int) and 0 <= hp["X"].value <= 12
        assert "  # int\n" in source.split("X = ")[1].split("\n")[0] + "\n"
        assert isinstance(hp["Y"].value, float) and 0.0 <= hp["Y"].value <= 1.0
        assert source.endswith(TOY[TOY.index("\n\ndef solve"):])


@pytest.mark.parametrize("budget", [0, 1, 5, 6, 7, 12, 13])
def test_budget_is_respected_exactly(budget: int) -> None:
    calls: list[str] = []

    async def evaluate(source: str) -> float:
        calls.append(source)
        return toy_fitness(source)

    result = run(evaluate=evaluate, seed=1, budget=budget, popsize=6)
    assert len(calls) == result.evaluations == budget


def test_batches_follow_popsize_and_budget() -> None:
    calibrator = Calibrator(TOY, RANGES, CalibrationConfig(seed=1, budget=11, popsize=4))
    assert [len(b) for b in drive(calibrator)] == [4, 4, 3]
    assert calibrator.done and calibrator.ask() == []


def test_default_popsize_is_capped() -> None:
    many = TOY.replace("Y = 0.8\n", "".join(f"P{i} = 0.{i + 1}\n" for i in range(8)) + "Y = 0.8\n")
    calibrator = Calibrator(many, {}, CalibrationConfig(seed=1))
    assert len(calibrator.free) == 10 and len(calibrator.ask()) == 6


# ------------------------------------------------------------------ invalid programs


def test_none_fitness_is_never_best_and_penalised() -> None:
    async def evaluate(source: str) -> float | None:
        return None if values(source)["X"] > 5 else toy_fitness(source)

    result = run(evaluate=evaluate, seed=2, budget=24)
    assert result.fitness is not None and values(result.source)["X"] <= 5
    assert result.fitness == toy_fitness(result.source) >= result.start_fitness


def test_all_invalid_returns_start_with_no_fitness() -> None:
    async def evaluate(source: str) -> None:
        return None

    result = run(evaluate=evaluate, seed=1)
    assert (result.source, result.fitness, result.start_fitness) == (TOY, None, None)
    assert result.evaluations == 12 and result.changed == {}


def test_non_finite_fitness_counts_as_invalid() -> None:
    calibrator = Calibrator(TOY, RANGES, CalibrationConfig(seed=1, budget=6))
    batch = calibrator.ask()
    calibrator.tell(batch, [float("nan"), float("inf"), -1.0, None, float("-inf"), -2.0])
    assert [f for _, f in calibrator.history] == [None, None, -1.0, None, None, -2.0]
    assert calibrator.best() == (batch[2], -1.0)


# ------------------------------------------------------------------ ask / tell protocol


def test_tell_accepts_duplicates_reordered_and_deduplicated() -> None:
    calibrator = Calibrator(ONE, {"X": (0, 3)}, CalibrationConfig(seed=1, budget=12))
    batch = calibrator.ask()
    assert len(batch) == 6 and len(set(batch)) < len(batch)  # only four distinct programs exist
    unique = list(dict.fromkeys(reversed(batch)))
    calibrator.tell(unique, [toy_fitness(s) for s in unique])
    assert len(calibrator.history) == 6
    second = calibrator.ask()
    calibrator.tell(second, [toy_fitness(s) for s in second])
    assert calibrator.evaluations == 12 and calibrator.done
    assert calibrator.best()[1] == max(f for _, f in calibrator.history)


def test_protocol_errors() -> None:
    calibrator = Calibrator(TOY, RANGES, CalibrationConfig(seed=1))
    with pytest.raises(RuntimeError):
        calibrator.tell([TOY], [0.0])
    batch = calibrator.ask()
    with pytest.raises(RuntimeError):
        calibrator.ask()
    with pytest.raises(ValueError):
        calibrator.tell(batch, [0.0])
    with pytest.raises(ValueError):
        calibrator.tell(batch[:-1] + ["x = 1\n"], [0.0] * len(batch))
    with pytest.raises(ValueError):
        calibrator.tell(batch[1:], [0.0] * (len(batch) - 1))  # the start program is missing
    calibrator.tell(batch, [0.0] * len(batch))  # still pending after the errors


@pytest.mark.parametrize("bad", [dict(budget=-1), dict(popsize=1), dict(sigma0=0.0)])
def test_config_is_validated(bad: dict) -> None:
    with pytest.raises(ValueError):
        CalibrationConfig(**bad)


def test_without_start_program() -> None:
    calibrator = Calibrator(TOY, RANGES, CalibrationConfig(seed=1, include_start=False))
    assert TOY not in calibrator.ask()
    result = run(seed=1, include_start=False)
    assert result.start_fitness is None and result.fitness is not None


# ------------------------------------------------------------------ determinism


def test_same_seed_same_sequence_regardless_of_numpy_global_state() -> None:
    np.random.seed(0)
    first = drive(Calibrator(TOY, RANGES, CalibrationConfig(seed=7, budget=18)))
    state = np.random.get_state()[1].copy()
    np.random.seed(99)
    second = drive(Calibrator(TOY, RANGES, CalibrationConfig(seed=7, budget=18)))
    other = drive(Calibrator(TOY, RANGES, CalibrationConfig(seed=8, budget=18)))
    assert first == second and first != other
    np.random.seed(0)
    assert (np.random.get_state()[1] == state).all()  # the global stream was not touched


# ------------------------------------------------------------------ dimensions


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_free_parameter(seed: int) -> None:
    result = run(ONE, {"X": (0, 12)}, seed=seed, budget=18)  # searched with an inert second coordinate
    assert result.fitness > result.start_fitness and 4 <= values(result.source)["X"] <= 10
    assert set(result.changed) == {"X"}


def test_one_free_parameter_among_fixed_ones() -> None:
    calibrator = Calibrator(TOY, {"Y": (0.4, 0.4), "X": (0, 12)}, CalibrationConfig(seed=1))
    assert [p.name for p in calibrator.free] == ["X"]
    sources = [s for b in drive(calibrator) for s in b]
    assert {values(s)["Y"] for s in sources[1:]} == {0.4} and values(sources[0])["Y"] == 0.8


def test_nothing_to_tune() -> None:
    calibrator = Calibrator(NONE, {"X": (0, 1)}, CalibrationConfig(seed=1))
    assert calibrator.done and calibrator.ask() == [] and calibrator.best() == (NONE, None)
    result = run(NONE, seed=1)
    assert (result.source, result.evaluations, result.changed) == (NONE, 0, {})


# ------------------------------------------------------------------ ranges


@pytest.mark.parametrize("value, is_int, expected", [
    (4, True, (2, 9)), (1, True, (1, 3)), (0, True, (0, 2)), (-3, True, (-7, -1)),
    (0.3, False, (0.0, 1.0)), (0.05, False, (0.0, 1.0)), (0.001, False, (0.00025, 0.004)),
    (1.0, False, (0.25, 4.0)), (8.0, False, (2.0, 32.0)), (-2.0, False, (-8.0, -0.5)), (0.0, False, (-1.0, 1.0)),
])
def test_default_range_rules(value: float, is_int: bool, expected: tuple[float, float]) -> None:
    lo, hi = default_range(Hyperparameter("P", value, is_int))
    assert (lo, hi) == pytest.approx(expected) and lo <= value <= hi


def test_ranges_ignored_swapped_defaulted_and_clamped() -> None:
    calibrator = Calibrator(TOY, {"X": (12, 5), "MAX_TIME": (0, 9), "Z": (1, 2), "Y": "wide"},
                            CalibrationConfig(seed=1))
    assert set(calibrator.ignored) == {"MAX_TIME", "Z", "Y"}
    bounds = {p.name: (p.lo, p.hi) for p in calibrator.params}
    assert bounds == {"X": (5, 12), "Y": (0.0, 1.0)}  # swapped; Y's default
    batch = calibrator.ask()
    assert batch[0] == TOY  # the start program is unmodified although X = 2 lies outside its range
    assert all(5 <= values(s)["X"] <= 12 for s in batch[1:])


def test_int_range_without_integer_is_fixed() -> None:
    calibrator = Calibrator(TOY, {"X": (3.2, 3.7)}, CalibrationConfig(seed=1))
    assert [p.name for p in calibrator.free] == ["Y"]
    assert all(values(s)["X"] == 3 for s in calibrator.ask()[1:])


def test_module_doctest() -> None:
    assert doctest.testmod(beam.calibrate).failed == 0


# ------------------------------------------------------------------ ranges the skeleton declares

DECLARED = TOY.replace("X = 2  # int", "X = 2  # int, range 0 3").replace("Y = 0.8", "Y = 0.4  # range -0.5 0.5")


def test_declared_ranges_are_parsed_and_printed_back() -> None:
    hypers = Program.parse(DECLARED).hyperparameters()
    assert hypers["X"].is_int and hypers["X"].bounds == (0.0, 3.0)
    assert not hypers["Y"].is_int and hypers["Y"].bounds == (-0.5, 0.5)
    assert str(hypers["X"]) == "X = 2  # int, range 0 3"
    assert default_range(hypers["Y"]) == (-0.5, 0.5)          # not the (0, 1) a share would get
    kept = Program.parse(DECLARED).with_hyperparameters({"X": 1, "Y": -0.2})
    assert kept.hyperparameters()["X"].bounds == (0.0, 3.0)    # the comment stays with the new value


@pytest.mark.parametrize("comment", ["# range 1", "# range a b", "# range 3 1", "# int, range 0 inf"])
def test_malformed_declared_ranges_name_the_hyperparameter(comment: str) -> None:
    with pytest.raises(beam.program.ProgramError, match="hyperparameter X"):
        Program.parse(TOY.replace("X = 2  # int", f"X = 2  {comment}"))


def test_calibration_stays_inside_declared_ranges_whatever_the_generator_says() -> None:
    calibrator = Calibrator(DECLARED, {"X": (0, 12), "Y": (0.0, 1.0)}, CalibrationConfig(budget=24, seed=3))
    asked = [values(s) for batch in drive(calibrator) for s in batch]
    assert asked and all(0 <= v["X"] <= 3 and -0.5 <= v["Y"] <= 0.5 for v in asked)
    assert {v["X"] for v in asked} >= {3}                     # the optimum X = 7 pulls it to the declared edge
    assert set(calibrator.ignored) == {"X", "Y"} and "declares" in calibrator.ignored["X"]
    assert any(v["Y"] < 0 for v in asked)                     # below the generator's range, inside the declared
