"""The offline composer: every operation yields a different, valid program, deterministically."""
from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from beam.evolve import heubase_components
from beam.generators.base import GenerationError, GeneratorContext
from beam.generators.composer import Composer, called_names, slot_of
from beam.problem import load_problem
from beam.program import MAX_TIME, Hyperparameter, Program

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = load_problem(ROOT / "problems" / "eplb")
SKELETONS = PROBLEM.skeletons()
SHAPE = (288, 8, 4, 32)


def composer(seed: int = 0) -> Composer:
    return Composer(GeneratorContext(problem=PROBLEM, heubase=heubase_components(PROBLEM), seed=seed))


def run(coroutine):
    return asyncio.run(coroutine)


def plan_of(source: str, tmp_path: Path, weight: torch.Tensor):
    """Import the program in-process (trusted here: composed from HeuBase) and run the entry."""
    path = tmp_path / f"prog_{abs(hash(source))}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rebalance_experts(weight, *SHAPE)


def assert_valid_plan(plan, weight):
    sys.path.insert(0, str(ROOT / "problems" / "eplb"))
    try:
        import metrics  # the evaluator's own validity checks
    finally:
        sys.path.pop(0)
    metrics.check_plan([t.numpy() for t in plan], weight.shape[0], weight.shape[1], SHAPE[0])


@pytest.fixture(scope="module")
def weight():
    return torch.from_numpy(np.random.default_rng(3).integers(0, 5000, size=(6, 256)))


@pytest.mark.parametrize("skeleton", SKELETONS, ids=lambda p: p.stem)
def test_fill_all_realises_every_placeholder_validly(skeleton, tmp_path, weight):
    source = run(composer().fill_all(skeleton.read_text()))
    program = Program.parse(source)
    assert not program.unrealised()
    program.check_complete(PROBLEM.entry)
    assert_valid_plan(plan_of(source, tmp_path, weight), weight)


def test_fill_one_differs_from_previous_realisations():
    gen = composer()
    skeleton = (PROBLEM.root / "skeletons" / "hier_pack_refine.py").read_text()
    previous: list[str] = []
    for _ in range(3):
        filled = Program.parse(run(gen.fill_one(skeleton, 1, previous)))
        function = filled.function_source("func_1")
        assert function not in previous
        assert "func_1" not in {p.name for p in filled.unrealised()}
        assert "func_2" in {p.name for p in filled.unrealised()}
        previous.append(function)


def test_fill_one_tries_untried_components_first_each_at_its_library_defaults():
    skeleton = (PROBLEM.root / "skeletons" / "fast_fused_swaps.py").read_text()
    for seed in range(4):
        gen = composer(seed)
        slot = next(slot_of(p) for p in Program.parse(skeleton).placeholders() if p.name == "func_2")
        names = {c.name for c, _ in gen._fitting(slot)}
        assert len(names) >= 3
        previous: list[str] = []
        for _ in range(len(names) + 2):
            previous.append(Program.parse(run(gen.fill_one(skeleton, 2, previous))).function_source("func_2"))
        first = previous[:len(names)]
        calls = [called_names(source) & names for source in first]
        assert all(len(c) == 1 for c in calls) and set().union(*calls) == names     # each component once
        assert not any("power=" in source for source in first)                      # at its defaults
        later = [source for source in previous[len(names):] if "replicate_proportional" in source]
        assert all("power=" in source for source in later)                        # then perturbed


def test_fill_all_completes_candidates_of_one_placeholder_alike():
    """The rest of the program does not depend on which candidate fills the placeholder being compared."""
    skeleton = (PROBLEM.root / "skeletons" / "fast_fused_swaps.py").read_text()
    for seed in range(3):
        gen = composer(seed)
        previous: list[str] = []
        completions = set()
        for _ in range(3):
            candidate = Program.parse(run(gen.fill_one(skeleton, 1, previous)))
            previous.append(candidate.function_source("func_1"))
            completions.add(Program.parse(run(gen.fill_all(candidate.source))).function_source("func_2"))
        assert len(set(previous)) == 3 and len(completions) == 1
        nudged = Program.parse(skeleton).with_hyperparameters({"SMOOTHING": 0.2}).source   # another skeleton
        other = {Program.parse(run(composer(s).fill_all(nudged))).function_source("func_2") for s in range(6)}
        assert len(other) > 1                                          # still drawn at random across seeds


def test_fill_all_draws_again_what_only_failed():
    skeleton = (PROBLEM.root / "skeletons" / "fast_fused_swaps.py").read_text()
    gen = composer()
    candidate = run(gen.fill_one(skeleton, 1, []))
    completed = run(gen.fill_all(candidate))
    rollout = Program.parse(completed).function_source("func_2")
    assert run(gen.fill_all(candidate)) == completed                      # same draw while nothing is known
    gen.observe(completed, {"valid": False, "error": "too_slow"})
    other = Program.parse(run(gen.fill_all(candidate))).function_source("func_2")
    assert other != rollout
    gen.observe(completed.replace("SMOOTHING = 0.05", "SMOOTHING = 0.06"), {"valid": True, "fitness": 0.8})
    assert run(gen.fill_all(candidate)) == completed                      # clean elsewhere: no longer suspect


def test_roles_fit_their_placeholders():
    gen = composer()
    for skeleton in SKELETONS:
        for placeholder in Program.parse(skeleton.read_text()).placeholders():
            slot = slot_of(placeholder)
            fitting = gen._fitting(slot)
            assert fitting, f"nothing fits {skeleton.stem}.{placeholder.name}"
            if "pack_of_item" in placeholder.params:
                assert all(c.role == "refiner" for c, _ in fitting)


def test_crossover_and_mutation_give_new_valid_programs(tmp_path, weight):
    gen = composer()
    a = run(gen.fill_all(SKELETONS[0].read_text()))
    b = run(gen.fill_all(SKELETONS[1].read_text()))
    child = run(gen.crossover(a, b))
    assert child not in (a, b)
    completed = run(gen.fill_all(child))
    assert_valid_plan(plan_of(completed, tmp_path, weight), weight)
    for seed in range(5):
        mutated = run(composer(seed).mutate(a, b))
        assert mutated != a
        filled = run(gen.fill_all(mutated))
        Program.parse(filled).check_complete(PROBLEM.entry)
        assert Program.parse(filled).hyperparameters()[MAX_TIME].value == Program.parse(a).hyperparameters()[MAX_TIME].value


def test_mutation_can_add_or_remove_a_refinement_stage():
    skeleton = (PROBLEM.root / "skeletons" / "hier_replicate_pack.py").read_text()
    seen_refined, seen_plain = False, False
    for seed in range(40):
        gen = composer(seed)
        program = Program.parse(run(gen.fill_all(skeleton)))
        refiners = {c.name for c in gen._components() if c.role == "refiner"}
        names = called_names(program.function_source("func_2"))
        seen_refined |= bool(names & refiners)
        seen_plain |= not names & refiners
    assert seen_refined and seen_plain


def test_fix_falls_back_to_the_last_clean_realisation():
    gen = composer()
    skeleton = (PROBLEM.root / "skeletons" / "hier_pack_refine.py").read_text()
    good = run(gen.fill_all(skeleton))
    gen.observe(good, {"valid": True, "fitness": 0.7})
    broken = Program.parse(good).with_function(
        "func_1", "def func_1(item_load: torch.Tensor, num_packs: int) -> torch.Tensor:\n    return item_load\n")
    fixed = Program.parse(run(gen.fix(broken.source, "runtime: ValueError: func_1 returned a pack index outside")))
    assert fixed.function_source("func_1") == Program.parse(good).function_source("func_1")


def test_parameter_ranges_and_describe():
    gen = composer()
    program = run(gen.fill_all(SKELETONS[0].read_text()))
    ranges = run(gen.parameter_ranges(program))
    assert MAX_TIME not in ranges and ranges
    assert all(low < high for low, high in ranges.values())
    description = run(gen.describe(Program.parse(program).function_source("func_1")))
    assert description.startswith("def ") and '"""' in description


def test_deterministic_for_a_seed_and_different_across_seeds():
    skeleton = SKELETONS[0].read_text()
    assert run(composer(1).fill_all(skeleton)) == run(composer(1).fill_all(skeleton))
    outputs = {run(composer(seed).fill_all(skeleton)) for seed in range(6)}
    assert len(outputs) > 1


def test_nothing_fits_is_a_generation_error():
    gen = composer()
    odd = SKELETONS[0].read_text().replace("def func_1(weight: torch.Tensor", "def func_1(weight: dict", 1)
    assert odd != SKELETONS[0].read_text()
    with pytest.raises(GenerationError, match="no library component fits"):
        run(gen.fill_all(odd))


@pytest.mark.parametrize("value, is_int, bounds", [(1, True, (0, 1)), (0, True, (0, 1)), (2, True, (2, 3)),
                                                    (0.3, False, (0.0, 0.3)), (-0.05, False, (-0.05, 0.1))])
def test_a_nudge_always_moves_a_hyperparameter_inside_its_range(value, is_int, bounds):
    # a Gaussian step on a small int range (REPACK_SLOTS, SPREAD) often rounds back to the old value: a
    # mutation that only nudged such constants gave back its parent (caught by the test above in CI)
    h = Hyperparameter("K", value, is_int, bounds)
    for seed in range(30):
        moved = composer(seed)._nudged(h)
        assert bounds[0] <= moved <= bounds[1]
        assert (round(moved) if is_int else moved) != value
