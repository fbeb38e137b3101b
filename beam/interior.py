"""Interior layer (the paper's Algorithm 2): education of one skeleton.

For each placeholder, in call-graph order, ``mc_func_pop`` candidate
realisations come from ``fill_one``; each candidate program is completed by
``fill_all``, evaluated, and repaired by ``fix`` up to ``max_fix_try`` times on
error; the best candidate's realisation is fixed into the skeleton and the
next placeholder follows. The last step's best program is the individual,
which is then calibrated (CMA-ES over its ``#Hyperparameter#`` block). In
``one-shot`` mode a single ``fill_all`` realises every placeholder at once.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from beam.calibrate import CalibrationConfig, Calibrator
from beam.evaluate.service import BudgetExhausted, EvaluationService, Scored, rank_key
from beam.generators.base import GenerationError, Generator
from beam.program import Program, ProgramError


@dataclass
class InteriorConfig:
    """Education settings (paper, Table XIII/XIV)."""

    mode: str = "mcts"            # "mcts" or "one-shot"
    mc_func_pop: int = 3          # candidates per placeholder
    max_fix_try: int = 3
    calibrate: bool = True
    calibration_budget: int = 8
    seed: int = 0


@dataclass
class Education:
    """Outcome of educating one skeleton: the best program found and what it cost."""

    best: Scored | None
    tried: list[Scored] = field(default_factory=list)
    fixes: int = 0
    fixed_ok: int = 0
    generator_errors: list[str] = field(default_factory=list)
    calibrated: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class Educator:
    """Realises and calibrates skeletons with a generator and an evaluation service."""

    def __init__(self, generator: Generator, service: EvaluationService, config: InteriorConfig):
        self.generator = generator
        self.service = service
        self.config = config

    async def educate(self, skeleton: str, *, generation: int, parents: list[int], role: str) -> Education:
        """Algorithm 2 on ``skeleton``; raises :class:`BudgetExhausted` only if nothing could be scored."""
        outcome = Education(best=None, meta={"generation": generation, "parents": parents, "role": role})
        try:
            program = Program.parse(skeleton)
        except ProgramError as exc:
            outcome.generator_errors.append(f"skeleton: {exc}")
            return outcome
        try:
            if self.config.mode == "one-shot" or not program.unrealised():
                best = await self._complete_and_score(program.source, outcome)
            else:
                best = await self._mcts(program, outcome)
                # every candidate of every step was a complete program: keep the best one seen,
                # which an earlier step may have produced
                best = min(outcome.tried, key=rank_key) if outcome.tried else best
            outcome.best = best
            if best is not None and best.fitness is not None and self.config.calibrate:
                outcome.best = await self._calibrate(best, outcome)
        except BudgetExhausted:
            if not outcome.tried:
                raise
        if outcome.best is None and outcome.tried:
            outcome.best = min(outcome.tried, key=rank_key)
        return outcome

    async def _mcts(self, program: Program, outcome: Education) -> Scored | None:
        entry = self.service.problem.entry
        order = [i for i in program.fill_order(entry) if i in {p.index for p in program.unrealised()}]
        best: Scored | None = None
        for index in order:
            name = f"func_{index}"
            candidates, previous = [], []
            for _ in range(self.config.mc_func_pop):
                try:
                    filled = Program.parse(await self.generator.fill_one(program.source, index, previous))
                    previous.append(filled.function_source(name))
                    candidates.append(filled.source)
                except (GenerationError, ProgramError, KeyError) as exc:
                    outcome.generator_errors.append(f"fill_one {name}: {exc}")
            if not candidates:
                return best
            scored = await self._all([self._complete_and_score(c, outcome) for c in candidates])
            usable = [s for s in scored if isinstance(s, Scored)]
            if not usable:
                budget = next((s for s in scored if isinstance(s, BudgetExhausted)), None)
                if budget is not None:
                    raise budget
                return best
            best = min(usable, key=rank_key)
            try:
                program = program.with_function(name, Program.parse(best.source).function_source(name))
            except (ProgramError, KeyError) as exc:
                outcome.generator_errors.append(f"keep {name}: {exc}")
                return best
        return best

    async def _all(self, coroutines: list) -> list:
        """Run concurrently when the service has several workers, else one after another.

        With one worker the order of generator calls and evaluations is fixed, so a
        run (and its replay on ``--resume``) is exactly reproducible.
        """
        if self.service.workers > 1:
            return await asyncio.gather(*coroutines, return_exceptions=True)
        results = []
        for index, coroutine in enumerate(coroutines):
            try:
                results.append(await coroutine)
            except BudgetExhausted as exc:
                results.append(exc)
            except BaseException:  # e.g. the disk is full: close the rest so none is left un-awaited
                for rest in coroutines[index + 1:]:
                    rest.close()
                raise
        return results

    async def _complete_and_score(self, source: str, outcome: Education) -> Scored | None:
        """fill_all, evaluate, then fix up to ``max_fix_try`` times while it fails."""
        try:
            if Program.parse(source).unrealised():
                source = await self.generator.fill_all(source)
        except (GenerationError, ProgramError) as exc:
            outcome.generator_errors.append(f"fill_all: {exc}")
            return None
        scored = await self._score(source, "fill_all", outcome)
        tries = 0
        while scored.fitness is None and tries < self.config.max_fix_try:
            tries += 1
            outcome.fixes += 1
            try:
                source = await self.generator.fix(scored.source, scored.error or "invalid result")
            except GenerationError as exc:
                outcome.generator_errors.append(f"fix: {exc}")
                break
            scored = await self._score(source, "fix", outcome, parents=[scored.program_id])
            if scored.fitness is not None:
                outcome.fixed_ok += 1
        return scored

    async def _score(self, source: str, role: str, outcome: Education, parents: list[int] | None = None,
                     kind: str = "realised") -> Scored:
        meta = outcome.meta
        scored = await self.service.evaluate(source, kind=kind, role=role, generation=meta["generation"],
                                             parents=parents or meta["parents"], meta={"education_of": meta["role"]})
        outcome.tried.append(scored)
        self.generator.observe(scored.source, scored.result)
        return scored

    async def _calibrate(self, best: Scored, outcome: Education) -> Scored:
        try:
            ranges = await self.generator.parameter_ranges(best.source)
        except GenerationError as exc:
            outcome.generator_errors.append(f"parameter_ranges: {exc}")
            ranges = {}
        budget = self.config.calibration_budget
        remaining = self.service.remaining()
        if remaining is not None:
            budget = min(budget, remaining)
        if budget <= 1:
            return best
        calibrator = Calibrator(best.source, ranges, CalibrationConfig(budget=budget, seed=self.config.seed))
        found = best
        while not calibrator.done:
            batch = calibrator.ask()
            scored = await self._all([self._score(s, "calibration", outcome, parents=[best.program_id],
                                                  kind="calibrated") for s in batch])
            values = [s.fitness if isinstance(s, Scored) else None for s in scored]
            calibrator.tell(batch, values)
            for s in scored:
                if isinstance(s, Scored) and rank_key(s) < rank_key(found):
                    found = s
            if any(isinstance(s, BudgetExhausted) for s in scored):
                break
        outcome.calibrated = found is not best
        return found

    @staticmethod
    def summary(outcome: Education) -> dict[str, Any]:
        return {"evaluated": len(outcome.tried), "fixes": outcome.fixes, "fixed_ok": outcome.fixed_ok,
                "generator_errors": len(outcome.generator_errors), "calibrated": outcome.calibrated}
