"""Glue between the adaptive memory (Algorithm 3) and a run: naming, files, store, generator context.

Every ``am_interval`` generations the exterior layer calls :meth:`MemoryKeeper.update`
with the surviving population. The keeper counts which memory functions the
survivors use, offers their realised placeholders to the memory, asks the
generator to name and describe newcomers, writes ``<run>/memory/`` (an
importable package), saves the memory and its events to the run database, and
refreshes the generator's context so later prompts and compositions can use it.
The memory starts empty at the start of every (re)played run, so a resumed run
rebuilds exactly the same memory.
"""
from __future__ import annotations

import ast
import keyword
from pathlib import Path

import libcst as cst

from beam.catalog import catalog
from beam.evaluate.service import Scored
from beam.generators.base import GenerationError, Generator, GeneratorContext
from beam.memory import PACKAGE, AdaptiveMemory, MemoryConfig, MemoryEvent, extract_candidates
from beam.store import RunStore


def memory_names_used(source: str) -> set[str]:
    """Names imported from the memory package anywhere in ``source`` (module or function level)."""
    used: set[str] = set()

    class Visitor(cst.CSTVisitor):
        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            module = cst.Module(body=[]).code_for_node(node.module) if node.module is not None else ""
            if (module == PACKAGE or module.startswith(PACKAGE + ".")) and not isinstance(node.names, cst.ImportStar):
                used.update(alias.name.value for alias in node.names if isinstance(alias.name, cst.Name))

    try:
        cst.parse_module(source).visit(Visitor())
    except cst.ParserSyntaxError:
        pass
    return used


def parse_description(text: str) -> tuple[str, str]:
    """``(name, docstring)`` from a ``def name(...):`` + docstring reply."""
    try:
        tree = ast.parse(text.strip() + ("\n    pass\n" if text.rstrip().endswith(":") else "\n"))
    except SyntaxError as exc:
        raise GenerationError(f"the description is not a def with a docstring: {exc.msg}") from None
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    if node is None:
        raise GenerationError("the description has no def line")
    return node.name, ast.get_docstring(node) or ""


def usable_name(name: str, taken: set[str]) -> str:
    """A valid, unused module/function name derived from ``name``."""
    clean = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name.lower()).strip("_")[:48] or "memory_fn"
    if clean[0].isdigit() or keyword.iskeyword(clean) or clean.startswith("func_"):
        clean = f"m_{clean}"
    candidate, k = clean, 2
    while candidate in taken:
        candidate, k = f"{clean}_{k}", k + 1
    return candidate


class MemoryKeeper:
    """Owns the run's :class:`AdaptiveMemory` and keeps files, store and context in step with it."""

    def __init__(self, run_dir: Path, store: RunStore, generator: Generator, context: GeneratorContext,
                 config: MemoryConfig | None = None):
        self.run_dir = Path(run_dir)
        self.store = store
        self.generator = generator
        self.context = context
        self.memory = AdaptiveMemory(config)
        self.memory.write_package(self.run_dir)
        self.store.save_memory([])
        self._refresh()

    async def update(self, generation: int, population: list[Scored]) -> None:
        """One adaptive-memory step (Algorithm 3) on the survivors of ``generation``."""
        events = self._record_usage(generation, population)
        elites = [(s.source, s.fitness, s.program_id) for s in population if s.fitness is not None]
        candidates = extract_candidates(elites, top=self.memory.config.top_elites)
        changes = self.memory.update(candidates, generation)
        renames = []
        for event in changes:
            if event.event in ("insert", "replace") and event.function_name in self.memory:
                new_name = await self._describe(event.function_name)
                if new_name is not None and new_name != event.function_name:
                    renames.append(MemoryEvent("rename", new_name, None, {"from": event.function_name},
                                               event.program_id, generation))
        events += changes + renames
        self.memory.write_package(self.run_dir)
        self.store.save_memory(self.memory.to_rows())
        for event in events:
            self.store.record_memory_event(**event.to_record())
        self._refresh()

    def _record_usage(self, generation: int, population: list[Scored]) -> list:
        events = []
        for scored in population:
            names = memory_names_used(scored.source) & {e.name for e in self.memory.entries()}
            if not names or scored.fitness is None:
                continue
            program = self.store.get_program(scored.program_id) or {}
            parent_fitness = [e["fitness"] for e in (self.store.evaluation(p, "validation")
                                                     for p in program.get("parents", [])) if e and e["fitness"] is not None]
            gain = scored.fitness - max(parent_fitness) if parent_fitness else 0.0
            events += self.memory.record_use(sorted(names), gain, generation)
        return events

    async def _describe(self, name: str) -> str | None:
        """Ask the generator for a name and docstring; returns the entry's new name (None: unchanged)."""
        entry = self.memory.get(name)
        if entry is None:
            return None
        try:
            proposed, doc = parse_description(await self.generator.describe(entry.function))
        except GenerationError:
            return None
        taken = {e.name for e in self.memory.entries()} - {name}
        for suffix in ("", "_memo", "_v2", "_v3"):
            try:
                return self.memory.rename(name, usable_name(proposed + suffix, taken), doc or None).name
            except ValueError:  # the name clashes with one the function itself uses
                continue
        return None

    def _refresh(self) -> None:
        folder = self.run_dir / PACKAGE
        components = catalog(folder, PACKAGE) if folder.is_dir() else []
        self.context.memory = [c for c in components if c.module == f"{PACKAGE}.{c.name}"]
