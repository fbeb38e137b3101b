"""`beam evolve`: wires problem, store, generator, evaluation, education, GA and memory together.

A run lives in its own folder (``runs/<problem>-<seed>`` by default) holding
``run.db`` (every program, evaluation, generator call and memory change) and
``memory/`` (the adaptive memory as an importable package). Resuming replays
the run from its database: evaluations and model replies are served from the
store, so nothing evaluated is evaluated again and no reply is paid twice, and
the search continues exactly where it stopped.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from beam.catalog import catalog
from beam.evaluate.executor import Executor, make_executor
from beam.evaluate.service import EvaluationService, Scored
from beam.exterior import Exterior, ExteriorConfig
from beam.generators.base import Generator, GeneratorContext
from beam.interior import Educator, InteriorConfig
from beam.knobase import load_notes, render_note, retrieve
from beam.problem import Problem, ProblemError
from beam.program import Program, ProgramError
from beam.selection import SelectionConfig
from beam.store import RunStore

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class EvolveOptions:
    """Everything a run depends on; stored in the run database and checked on resume."""

    generator: str = "composer"
    seed: int = 0
    generations: int = 3
    population: int = 4
    evaluations: int = 60
    workers: int = 1
    mode: str = "mcts"
    mc_func_pop: int = 3
    max_fix_try: int = 3
    calibrate: bool = True
    calibration_budget: int = 8
    memory: bool = True
    am_interval: int = 1
    crossover_rate: float = 0.7
    mutation_rate: float = 0.3
    model: str | None = None
    base_url: str | None = None
    token_budget: int | None = None
    knowledge_notes: int = 3
    llm: dict[str, Any] = field(default_factory=dict)
    selection: str = "ranked"
    islands: int = 1
    reset_interval: int = 2
    qube_k: float = 0.001
    qube_temperature: float = 1.0
    # where evaluations run: not part of the identity, a run may be resumed on another executor
    executor: str = "local"
    ray_address: str | None = None
    sandbox: str | None = None  # warm | fresh (default: warm where supported)

    def identity(self) -> dict[str, Any]:
        """The settings that must match for ``--resume`` to replay the same run.

        Selection settings join the identity only when they differ from the defaults,
        so runs stored before they existed still resume.
        """
        keys = ("generator", "seed", "generations", "population", "mode", "mc_func_pop", "max_fix_try",
                "calibrate", "calibration_budget", "memory", "am_interval", "crossover_rate", "mutation_rate",
                "model")
        identity = {k: getattr(self, k) for k in keys}
        defaults = EvolveOptions()
        identity.update({k: getattr(self, k) for k in SELECTION_KEYS if getattr(self, k) != getattr(defaults, k)})
        return identity

    def selection_config(self) -> SelectionConfig:
        """The exterior's selection settings (a ValueError names a bad one)."""
        if self.islands > self.population:
            raise ValueError(f"--islands {self.islands} needs a population of at least {self.islands} "
                             f"(got --population {self.population})")
        return SelectionConfig(scheme=self.selection, islands=self.islands, reset_interval=self.reset_interval,
                               k=self.qube_k, temperature=self.qube_temperature)


SELECTION_KEYS = ("selection", "islands", "reset_interval", "qube_k", "qube_temperature")


class ResumeMismatch(ValueError):
    """``--resume`` was asked with settings that differ from the stored run."""


@dataclass
class EvolveResult:
    run_dir: Path
    best: Scored | None
    test_result: dict[str, Any] | None
    example_dir: Path | None
    evaluations: int
    sandbox_runs: int
    seconds: float
    generator_usage: dict[str, Any]
    executor: str = "local"


def heubase_components(problem: Problem):
    """The problem's HeuBase, read from source (``heubase/<problem>/``)."""
    folder = PROJECT_ROOT / "heubase" / problem.name
    return catalog(folder, f"heubase.{problem.name}") if folder.is_dir() else []


def knowledge_for(problem: Problem, limit: int) -> list[str]:
    """KnoBase notes most relevant to the problem description."""
    folder = PROJECT_ROOT / "knobase" / str(problem.config["problem"].get("knobase", problem.name))
    if not folder.is_dir() or limit <= 0:
        return []
    notes = load_notes(folder)
    query = problem.file("description").read_text(encoding="utf-8")
    return [render_note(n) for n in retrieve(notes, query, k=limit)]


def make_generator(options: EvolveOptions, context: GeneratorContext, store: RunStore) -> Generator:
    """The composer (offline) or the OpenAI-compatible model generator."""
    if options.generator == "composer":
        from beam.generators.composer import Composer

        return Composer(context, seed=options.seed)
    if options.generator == "llm":
        from beam.generators.llm import LLMGenerator

        return LLMGenerator(context, store=store, model=options.model, base_url=options.base_url,
                            token_budget=options.token_budget, **options.llm)
    raise ValueError(f"unknown generator {options.generator!r}; choose composer or llm")


def check_skeletons(problem: Problem) -> None:
    """Every skeleton parses, has a ``#Hyperparameter#`` block and defines the entry; else a ProblemError naming it."""
    skeletons = problem.skeletons()
    if not skeletons:
        raise ProblemError(f"{problem.file('skeletons')}: no skeleton files (*.py)")
    for path in skeletons:
        try:
            program = Program.parse(path.read_text(encoding="utf-8"))
            program.hyperparameters()
        except (ProgramError, UnicodeDecodeError) as exc:
            raise ProblemError(f"{path}: {exc}") from None
        if problem.entry not in program.functions():
            raise ProblemError(f"{path}: defines no {problem.entry}() (the problem's entry function)")


def open_run(run_dir: Path, options: EvolveOptions, problem: Problem, resume: bool) -> RunStore:
    """Create or reopen the run database, refusing to mix different runs in one folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(run_dir)
    stored = store.get_run("options")
    if stored is not None:
        if not resume:
            store.close()
            raise ResumeMismatch(f"{run_dir} already holds a run; pass --resume to continue it "
                                 f"or choose another --run-dir")
        if stored.get("identity") != options.identity() or stored.get("problem") != problem.name:
            store.close()
            raise ResumeMismatch(f"{run_dir}: --resume needs the same settings as the stored run "
                                 f"({stored.get('identity')})")
    store.set_run("options", {"identity": options.identity(), "problem": problem.name, "all": asdict(options)})
    store.set_run("status", "running")
    store.log_event("run_started", {"resume": resume})
    return store


async def run_evolution(problem: Problem, options: EvolveOptions, run_dir: Path, *, resume: bool = False,
                        progress: Callable[[dict], None] | None = None,
                        executor: Executor | None = None) -> tuple[RunStore, Exterior, EvaluationService, Generator]:
    """Run (or replay and continue) the search; returns the open store and the parts used.

    Evaluations go to ``executor`` (default: a local one with ``options.workers`` threads).
    """
    check_skeletons(problem)
    selection = options.selection_config()
    store = open_run(run_dir, options, problem, resume)
    if executor is not None:
        store.set_run("executor", executor.name)
    context = GeneratorContext(problem=problem, heubase=heubase_components(problem),
                               knowledge=knowledge_for(problem, options.knowledge_notes), seed=options.seed)
    generator = make_generator(options, context, store)
    service = EvaluationService(problem, store, split="validation", workers=options.workers,
                                max_evaluations=options.evaluations, memory_dir=run_dir, executor=executor)
    educator = Educator(generator, service, InteriorConfig(
        mode=options.mode, mc_func_pop=options.mc_func_pop, max_fix_try=options.max_fix_try,
        calibrate=options.calibrate, calibration_budget=options.calibration_budget, seed=options.seed))
    keeper = None
    if options.memory:
        from beam.memory import MemoryConfig
        from beam.memory_keeper import MemoryKeeper

        keeper = MemoryKeeper(run_dir, store, generator, context, MemoryConfig.from_dict(problem.section("memory")))

    def report(info: dict) -> None:
        usage = generator.usage()
        tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        if progress is not None:
            progress({**info, "evaluations": service.spent, "rate": service.rate_per_minute(), "tokens": tokens})

    exterior = Exterior(generator, educator, store, ExteriorConfig(
        generations=options.generations, init_pop_size=options.population, max_pop_size=options.population,
        crossover_rate=options.crossover_rate, mutation_rate=options.mutation_rate,
        am_interval=options.am_interval, seed=options.seed, selection=selection),
        memory_hook=keeper.update if keeper else None, progress=report)
    await exterior.run()
    store.set_run("status", "finished")
    return store, exterior, service, generator


def best_program(store: RunStore, split: str = "validation") -> Scored | None:
    """Highest-fitness valid program of the run on ``split``."""
    top = store.best(split=split, n=1)
    if not top:
        return None
    program_id, _ = top[0]
    row = store.get_program(program_id)
    evaluation = store.evaluation(program_id, split)
    result = dict(evaluation.get("metrics") or {}, valid=True, fitness=evaluation["fitness"])
    return Scored(program_id, row["source"], result)


def evolve(problem: Problem, options: EvolveOptions, run_dir: Path, examples_dir: Path | None,
           resume: bool = False, progress: Callable[[dict], None] | None = None) -> EvolveResult:
    """Search, re-score the best program on the test split, and emit it to ``examples_dir``."""
    from beam.example import emit_example, score_on_test

    started = time.perf_counter()
    executor = make_executor(options.executor, problem, options.workers, sandbox=options.sandbox,
                             ray_address=options.ray_address)
    try:
        store, exterior, service, generator = asyncio.run(run_evolution(problem, options, run_dir, resume=resume,
                                                                        progress=progress, executor=executor))
    except BaseException:
        executor.close()
        raise
    try:
        best = best_program(store)
        test_result = example_dir = None
        if best is not None:
            if progress:
                progress({"phase": "test split", "generation": exterior.generation})
            test_result = score_on_test(problem, store, best, run_dir, executor=executor)
            if examples_dir is not None and test_result.get("valid"):
                example_dir = emit_example(problem, store, best, test_result, options, run_dir, examples_dir)
        store.set_run("summary", json.loads(json.dumps({
            "best_program": best.program_id if best else None, "best_fitness": best.fitness if best else None,
            "test": test_result, "evaluations": service.spent}, default=str)))
        return EvolveResult(run_dir, best, test_result, example_dir, service.spent, service.sandbox_runs,
                            time.perf_counter() - started, generator.usage(), executor.name)
    finally:
        store.close()
        executor.close()
