"""The offline composer: every generator operation without a model, by typed recombination.

A placeholder is realised by calling a library component (HeuBase or adaptive
memory) whose signature binds to the placeholder's parameters (see
:func:`beam.catalog.bind`) and whose role matches the placeholder's role, with
the component's numeric keyword defaults perturbed; a packer may be followed
by a refiner. The candidates of one placeholder (``fill_one``) try components
not tried yet first, each first with its library defaults. Crossover and mutation work on whole programs: they exchange
realised functions and hyperparameter values between parents whose
placeholders match, reset placeholders for re-education, add or drop a
refinement stage, nudge a hyperparameter or bring in a memory elite. Fix falls
back to the best realisation of the failing placeholder that evaluated
cleanly (order-independent, so replays agree). Everything is deterministic for a seed.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import libcst as cst

from beam.calibrate import default_range
from beam.catalog import (Component, bind, declared_result, def_line_params, normalise, param_category, shape_role,
                          signature_shape)
from beam.generators.base import GenerationError, Generator, GeneratorContext
from beam.program import MAX_TIME, Hyperparameter, Placeholder, Program, ProgramError

REFINE_PROBABILITY = 0.5
PERTURB_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class Slot:
    """A placeholder with its typed parameters and role."""

    placeholder: Placeholder
    params: tuple[tuple[str, str | None], ...]
    returns: str | None
    role: str
    result: str | None

    @property
    def key(self) -> str:
        """Identifies 'the same placeholder' across programs: its def line."""
        return self.placeholder.signature


def slot_of(placeholder: Placeholder) -> Slot:
    params, returns = def_line_params(placeholder.signature)
    typed = tuple((p.name, p.annotation) for p in params)
    return Slot(placeholder, typed, returns, shape_role(signature_shape(typed, returns)),
                declared_result(placeholder.purpose))


def called_names(function_source: str) -> set[str]:
    """Names called anywhere in a function (``f(...)`` and ``mod.f(...)`` both give ``f``)."""
    names: set[str] = set()

    class Visitor(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Name):
                names.add(func.value)
            elif isinstance(func, cst.Attribute):
                names.add(func.attr.value)

    cst.parse_module(function_source).visit(Visitor())
    return names


class Composer(Generator):
    """Model-free generator over HeuBase and adaptive-memory components."""

    name = "composer"

    def __init__(self, context: GeneratorContext, seed: int | None = None):
        super().__init__(context)
        self.seed = context.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self._clean: dict[str, dict[str, float]] = {}
        self._failed: dict[str, set[str]] = {}

    def _reseed(self, operation: str, *inputs: object) -> None:
        """Random stream of one call, derived from the seed and the call's inputs.

        Results then do not depend on the order in which concurrent educations
        happen to call the composer, so a run is reproducible for its seed.
        """
        digest = hashlib.sha256(repr((self.seed, operation, inputs)).encode()).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))

    # ------------------------------------------------------------ components
    def _components(self) -> list[Component]:
        return list(self.context.heubase) + list(self.context.memory)

    @staticmethod
    def suits(slot: Slot, component: Component) -> bool:
        """Whether a component's role/declared result suit a placeholder (binding is checked separately).

        A placeholder whose purpose declares what it returns (``return pack_of_item …``)
        takes only components declaring the same result; otherwise the roles must
        agree, except that a placeholder whose own role is vague (utility, placer)
        accepts any specific component, and only a non-tensor return (e.g. a list
        of packings) admits utility components.
        """
        if component.role == "solver":
            return False
        if slot.result is not None:
            return component.result == slot.result
        if component.role == slot.role:
            return True
        if component.role == "utility":
            return normalise(slot.returns) not in (None, "Tensor")
        return slot.role in ("utility", "placer")

    def _fitting(self, slot: Slot) -> list[tuple[Component, dict[str, str]]]:
        found = []
        for component in self._components():
            if not self.suits(slot, component):
                continue
            mapping = bind(component, slot.params, slot.returns, skip=True)
            consumed = set(mapping.values()) if mapping is not None else set()
            # an input the placeholder must transform (e.g. pack_of_item of a refiner) must be used
            if mapping is not None and all(n in consumed for n, _ in slot.params
                                           if param_category(n).startswith("assign:")):
                found.append((component, mapping))
        return found

    def _refiners(self, slot: Slot) -> list[Component]:
        return [c for c in self._components() if c.role == "refiner"]

    def _perturbed_defaults(self, component: Component, bound: dict[str, str]) -> list[str]:
        extras = []
        for param in component.params:
            if param.name in bound or param.default is None or param.kind not in ("positional", "keyword-only"):
                continue
            try:
                value = float(param.default)
            except ValueError:
                continue
            if param.default.lstrip("-").isdigit():
                new = max(1, round(int(param.default) * self.rng.uniform(*PERTURB_RANGE)))
                extras.append(f"{param.name}={new}")
            elif value > 0:
                extras.append(f"{param.name}={value * self.rng.uniform(*PERTURB_RANGE):.4g}")
        return extras

    @staticmethod
    def _call(component: Component, mapping: dict[str, str], extras: list[str],
              replace: dict[str, str] | None = None) -> str:
        positional = [p.name for p in component.params if p.kind == "positional" and p.default is None]
        args = []
        for name, target in mapping.items():
            value = (replace or {}).get(target, target)
            args.append(value if name in positional else f"{name}={value}")
        return f"{component.name}({', '.join(args + extras)})"

    def _render(self, slot: Slot, component: Component, mapping: dict[str, str],
                refiner: Component | None, perturb: bool = True) -> str:
        """Function source realising ``slot`` with ``component`` (then ``refiner``), numeric keyword
        defaults perturbed unless ``perturb`` is false."""
        p = slot.placeholder
        lines = [p.signature]
        lines += [f"    {line}" if line.strip() else "" for line in p.purpose_lines] or [f"    # Purpose: {p.purpose}"]
        parts = [component] + ([refiner] if refiner else [])
        lines.append(f"    # Composed offline from: {' + '.join(c.name for c in parts)}")
        for part in parts:
            lines.append(f"    from {part.module} import {part.name}")
        call = self._call(component, mapping, self._perturbed_defaults(component, mapping) if perturb else [])
        if refiner is None:
            lines.append(f"    return {call}")
        else:
            positional = list(mapping.values())
            weights, count = positional[0], positional[1]
            ref_map = {refiner.params[0].name: weights, refiner.params[1].name: "packed",
                       refiner.params[2].name: count}
            lines.append(f"    packed = {call}")
            extras = self._perturbed_defaults(refiner, ref_map) if perturb else []
            lines.append(f"    return {self._call(refiner, ref_map, extras)}")
        return "\n".join(lines) + "\n"

    def _realisation(self, slot: Slot, avoid: set[str] = frozenset(), refine: bool | None = None,
                     pool: list[tuple[Component, dict[str, str]]] | None = None, tried: list[str] | None = None) -> str:
        """A realisation of ``slot`` that is none of ``avoid``.

        With ``tried`` (the placeholder's earlier candidates, as in ``fill_one``), components no candidate
        has called yet come first, and a component's first candidate keeps its library defaults; its
        later ones are perturbed. Otherwise the component is drawn at random with perturbed defaults.
        """
        options = pool if pool is not None else self._fitting(slot)
        if not options:
            raise GenerationError(f"no library component fits {slot.placeholder.name} "
                                  f"({slot.placeholder.signature.strip()}; role {slot.role})")
        used = set().union(*(called_names(source) for source in tried)) if tried else set()
        fresh = [option for option in options if option[0].name not in used] if tried is not None else []
        refiners = self._refiners(slot) if slot.role == "packer" else []
        source = ""
        for attempt in range(8):
            component, mapping = self.rng.choice(fresh or options)
            use_refiner = refine if refine is not None else self.rng.random() < REFINE_PROBABILITY
            refiner = self.rng.choice(refiners) if refiners and use_refiner else None
            source = self._render(slot, component, mapping, refiner, perturb=not fresh or attempt > 0)
            if source not in avoid:
                break
        return source

    # ------------------------------------------------------------ helpers on programs
    @staticmethod
    def _parse(source: str) -> Program:
        try:
            return Program.parse(source)
        except ProgramError as exc:
            raise GenerationError(f"cannot parse the program: {exc}") from None

    def _slots(self, program: Program) -> list[Slot]:
        return [slot_of(p) for p in program.placeholders()]

    def _structure(self, program: Program) -> tuple:
        """What identifies a skeleton apart from its realised placeholders: entry function, hyperparameters."""
        try:
            entry = program.function_source(self.context.problem.entry)
        except KeyError:
            entry = ""
        return entry, tuple(sorted((name, h.value) for name, h in program.hyperparameters().items()))

    def _nudge(self, program: Program, count: int = 1) -> Program:
        params = {n: h for n, h in program.hyperparameters().items() if n != MAX_TIME}
        if not params:
            return program
        values = {name: self._nudged(params[name]) for name in self.rng.sample(sorted(params), min(count, len(params)))}
        return program.with_hyperparameters(values)

    def _nudged(self, h: Hyperparameter) -> float:
        """A new value for ``h`` inside its range: a Gaussian step of a fifth of the range, redrawn while it
        rounds back to the old value (small int ranges, clipping at a bound), else one step inwards."""
        low, high = default_range(h)
        for _ in range(4):
            value = min(max(h.value + self.rng.gauss(0, 0.2) * (high - low), low), high)
            if (round(value) if h.is_int else value) != h.value:
                return value
        if h.is_int:
            return h.value + 1 if h.value + 1 <= high else h.value - 1
        return (h.value + (low if h.value - low > high - h.value else high)) / 2

    # ------------------------------------------------------------ operations
    async def initial_structure(self, index: int) -> str:
        self._reseed("initial_structure", index)
        skeletons = self.context.problem.skeletons()
        if not skeletons:
            raise GenerationError(f"problem {self.context.problem.name} ships no skeletons")
        program = self._parse(skeletons[index % len(skeletons)].read_text(encoding="utf-8"))
        if index >= len(skeletons):
            program = self._nudge(program, count=2)
        return program.source

    async def crossover(self, worse: str, better: str) -> str:
        self._reseed("crossover", worse, better)
        child, donor = self._parse(better), self._parse(worse)
        donor_slots = {s.key: s for s in self._slots(donor) if s.placeholder.realised}
        shared = {n: h.value for n, h in donor.hyperparameters().items()
                  if n != MAX_TIME and n in child.hyperparameters() and self.rng.random() < 0.5}
        if shared:
            child = child.with_hyperparameters(shared)
        slots = self._slots(child)
        for slot in slots:
            name = slot.placeholder.name
            if slot.key in donor_slots and self.rng.random() < 0.5:
                child = child.with_function(name, donor.function_source(donor_slots[slot.key].placeholder.name))
            elif slot.placeholder.realised and self.rng.random() < 0.5:
                child = child.with_function(name, slot.placeholder.stub())
        if slots and not child.unrealised():
            pick = self.rng.choice(slots).placeholder
            child = child.with_function(pick.name, pick.stub())
        if child.source in (worse, better):
            child = self._nudge(child)
        return child.source

    async def mutate(self, current: str, elite: str) -> str:
        self._reseed("mutate", current, elite)
        program = self._parse(current)
        slots = [s for s in self._slots(program) if s.placeholder.realised]
        operations = ["nudge"]
        if slots:
            operations += ["swap", "refine-stage"]
            if self.context.memory:
                operations.append("memory")
            if any(s.key in {e.key for e in self._slots(self._parse(elite))} for s in slots):
                operations.append("elite")
        for _ in range(6):
            operation = self.rng.choice(operations)
            mutated = self._mutate_once(program, slots, operation, elite)
            if mutated is not None and mutated.source != current:
                return mutated.source
        return self._nudge(program, count=2).source

    def _mutate_once(self, program: Program, slots: list[Slot], operation: str, elite: str) -> Program | None:
        if operation == "nudge":
            return self._nudge(program)
        slot = self.rng.choice(slots)
        name = slot.placeholder.name
        if operation == "swap":
            return program.with_function(name, slot.placeholder.stub())
        if operation == "refine-stage":
            if slot.role != "packer":
                return None
            refined = bool(called_names(program.function_source(name)) & {c.name for c in self._refiners(slot)})
            return program.with_function(name, self._realisation(slot, refine=not refined))
        if operation == "memory":
            pool = [(c, m) for c, m in self._fitting(slot) if c in self.context.memory]
            return program.with_function(name, self._realisation(slot, pool=pool)) if pool else None
        elite_program = self._parse(elite)
        match = [s for s in self._slots(elite_program) if s.key == slot.key and s.placeholder.realised]
        return program.with_function(name, elite_program.function_source(match[0].placeholder.name)) if match else None

    async def fill_one(self, program: str, index: int, previous: list[str]) -> str:
        self._reseed("fill_one", program, index, tuple(previous))
        parsed = self._parse(program)
        slot = next((s for s in self._slots(parsed) if s.placeholder.index == index), None)
        if slot is None:
            raise GenerationError(f"the program has no func_{index}")
        realisation = self._realisation(slot, avoid=set(previous), tried=previous)
        return parsed.with_function(slot.placeholder.name, realisation).source

    async def fill_all(self, program: str) -> str:
        """Every unrealised placeholder realised; each one's draw depends only on the skeleton, not on the
        realised placeholders, so candidates for one placeholder are completed alike and compared fairly.
        A realisation seen only in programs that failed is drawn again."""
        parsed = self._parse(program)
        slots = self._slots(parsed)
        for slot in slots:
            if not slot.placeholder.realised:
                self._reseed("fill_all", self._structure(parsed), slot.key)
                failed = self._failed.get(slot.key, set()) - set(self._clean.get(slot.key, {}))
                parsed = parsed.with_function(slot.placeholder.name, self._realisation(slot, avoid=failed))
        return parsed.source

    async def fix(self, program: str, error: str) -> str:
        self._reseed("fix", program, error)
        parsed = self._parse(program)
        slots = [s for s in self._slots(parsed) if s.placeholder.realised]
        named = [s for s in slots if s.placeholder.name in error]
        suspects = named or slots
        fixed = parsed
        for slot in suspects:
            current = parsed.function_source(slot.placeholder.name)
            clean = sorted((-fit, src) for src, fit in self._clean.get(slot.key, {}).items() if src != current)
            replacement = clean[0][1] if clean else self._realisation(slot, avoid={current})
            fixed = fixed.with_function(slot.placeholder.name, replacement)
        if fixed.source == program:
            raise GenerationError(f"the composer has nothing to change to fix: {error[:200]}")
        return fixed.source

    async def parameter_ranges(self, program: str) -> dict[str, tuple[float, float]]:
        return {name: default_range(h) for name, h in self._parse(program).hyperparameters().items()
                if name != MAX_TIME}

    async def describe(self, function: str) -> str:
        self._reseed("describe", function)
        tree = cst.parse_module(function)
        node = next((s for s in tree.body if isinstance(s, cst.FunctionDef)), None)
        if node is None:
            raise GenerationError("describe: no function in the given code")
        parts = [c.name for c in self._components() if c.name in called_names(function)]
        base = "_then_".join(parts) if parts else node.name.value
        purpose = " ".join(line.strip().removeprefix("#").strip().removeprefix("Purpose:").strip()
                           for line in tree.code_for_node(node).splitlines()
                           if line.strip().startswith("#") and "Composed offline" not in line)
        signature = tree.code_for_node(node.with_changes(body=cst.IndentedBlock(body=[]))).split(":\n")[0]
        signature = signature.replace(f"def {node.name.value}(", f"def {base}(", 1)
        doc = (purpose or "Realised placeholder.") + (f" Composed from {', '.join(parts)}." if parts else "")
        return f'{signature.strip()}:\n    """{doc}"""\n'

    def observe(self, program: str, result: dict[str, Any]) -> None:
        """Remember each realised placeholder of a clean program with its best fitness (for ``fix``), and
        of a failed one as suspect (``fill_all`` avoids what never evaluated cleanly)."""
        try:
            parsed = Program.parse(program)
        except ProgramError:
            return
        fitness = float(result.get("fitness") or 0.0)
        for slot in self._slots(parsed):
            if not slot.placeholder.realised:
                continue
            source = parsed.function_source(slot.placeholder.name)
            if result.get("valid"):
                history = self._clean.setdefault(slot.key, {})
                history[source] = max(fitness, history.get(source, fitness))
            else:
                self._failed.setdefault(slot.key, set()).add(source)
