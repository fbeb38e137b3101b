"""Ablation: what each part of BEAM is worth, at the same evaluation budget and the same seeds.

Runs, on the validation split, for every seed: the full method; without the
adaptive memory; without CMA-ES calibration; one-shot education instead of
MCTS; islands with QUBE parent selection; and a random search over the same
components (the composer's initial structures, each completed by one
``fill_all``, no GA). Every configuration runs as ``beam evolve`` in its own
run folder (``OUT/<config>-seed<seed>``): a second run of this script reuses
the finished runs and resumes the unfinished ones. It prints mean ± standard
deviation over seeds of the final best fitness and, for EPLB, of the best
program's next-window GPU balance, same-window GPU balance and ms per call
(default shape), and the evaluations needed to reach the reference solver's
validation fitness and to reach the median of all runs' final best fitness (a
stricter target: which configuration gets there, and how fast).

    python benchmarks/ablation.py problems/eplb [--seeds 3] [--evaluations 60] [--generations 3]
                                  [--population 4] [--islands 2] [--out runs/ablation] [--markdown]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.evaluate.service import BudgetExhausted, EvaluationService  # noqa: E402
from beam.evolve import EvolveOptions, heubase_components, knowledge_for, make_generator  # noqa: E402
from beam.generators.base import GenerationError, GeneratorContext  # noqa: E402
from beam.problem import Problem, import_by_path, load_problem  # noqa: E402
from beam.store import RunStore  # noqa: E402

RANDOM = "random search"
METRICS = {"eplb": ("balancedness_gpu", "balancedness_gpu_same_window", "ms_per_call")}


def configurations(islands: int) -> dict[str, list[str]]:
    """Name -> extra ``beam evolve`` arguments (the random search is not a ``beam evolve`` run)."""
    return {"full method": [], "no adaptive memory": ["--no-memory"], "no calibration": ["--no-calibrate"],
            "one-shot education": ["--mode", "one-shot"],
            f"islands ({islands}) + QUBE": ["--selection", "qube", "--islands", str(islands)], RANDOM: []}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def finished(run_dir: Path) -> bool:
    """A run folder whose run ended (its summary is written last)."""
    if not (run_dir / "run.db").is_file():
        return False
    with RunStore(run_dir) as store:
        return store.get_run("summary") is not None


def run_evolve(problem_dir: Path, run_dir: Path, seed: int, args: argparse.Namespace, extra: list[str]) -> None:
    """One configuration as ``beam evolve`` (``--resume`` when the folder holds an unfinished run)."""
    command = [sys.executable, "-m", "beam.cli", "evolve", str(problem_dir), "--seed", str(seed),
               "--evaluations", str(args.evaluations), "--generations", str(args.generations),
               "--population", str(args.population), "--run-dir", str(run_dir), "--no-example", *extra]
    if (run_dir / "run.db").is_file():
        command.append("--resume")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"error: {' '.join(command)} failed:\n{done.stderr[-2000:]}")


async def random_search(problem: Problem, run_dir: Path, seed: int, evaluations: int) -> int:
    """Random search over the composer's components: initial structure ``i``, one ``fill_all``, evaluate; no GA.

    Uses the same generator and evaluation service as ``beam evolve``; results are
    stored in ``run_dir/run.db``, so a repeated call is served from the store.
    Returns the evaluations spent.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    options = EvolveOptions(seed=seed, evaluations=evaluations, memory=False)
    with RunStore(run_dir) as store:
        store.set_run("options", {"identity": {"random_search": True, "seed": seed}, "problem": problem.name,
                                  "all": {"seed": seed, "evaluations": evaluations}})
        context = GeneratorContext(problem=problem, heubase=heubase_components(problem),
                                   knowledge=knowledge_for(problem, options.knowledge_notes), seed=seed)
        generator = make_generator(options, context, store)
        service = EvaluationService(problem, store, split="validation", max_evaluations=evaluations,
                                    memory_dir=run_dir)
        index = 0
        while service.remaining() and index < 20 * evaluations:  # duplicates cost nothing; stop if only those come
            try:
                program = await generator.fill_all(await generator.initial_structure(index))
                await service.evaluate(program, kind="realised", role="random_search", generation=0)
            except GenerationError as exc:
                store.log_event("generator_error", {"operation": "random_search", "error": str(exc)})
            except BudgetExhausted:
                break
            index += 1
        store.set_run("summary", {"evaluations": service.spent})
        return service.spent


def reference_fitness(problem: Problem, out: Path) -> float | None:
    """The reference solver's validation fitness, computed once and cached in ``out/reference.json``."""
    cache = out / "reference.json"
    if cache.is_file():
        return json.loads(cache.read_text())["fitness"]
    if "reference" not in problem.config["problem"]:
        return None
    result = problem.evaluate(problem.file("reference"), split="validation")
    fitness = result["fitness"] if result.get("valid") else None
    cache.write_text(json.dumps({"fitness": fitness}))
    return fitness


def summarise(run_dir: Path, metrics: tuple[str, ...], target: float | None) -> dict[str, Any]:
    """Best validation fitness, its metrics, and how many evaluations it took to reach ``target``."""
    with RunStore(run_dir) as store:
        rows = store.evaluations(split="validation")
        top = store.best(split="validation", n=1)
        trajectory = [row["fitness"] if row["valid"] else None for row in rows]
        out: dict[str, Any] = {"evaluations": len(rows), "fitness": None, "trajectory": trajectory,
                               "reached": evaluations_to_reach(trajectory, target)}
        if top:
            best = store.evaluation(top[0][0], "validation")
            out["fitness"] = best["fitness"]
            out.update({m: best["metrics"].get(m) for m in metrics})
        return out


def evaluations_to_reach(trajectory: list[float | None], target: float | None) -> int | None:
    """1-based index of the first evaluation whose fitness is at least ``target`` (None: never, or no target)."""
    if target is None:
        return None
    return next((i for i, fitness in enumerate(trajectory, 1) if fitness is not None and fitness >= target), None)


def mean_std(values: list[float | None], digits: int) -> str:
    """``mean ± std`` over the seeds that have a value (std 0 for one seed)."""
    present = [v for v in values if v is not None]
    if not present:
        return "—"
    std = statistics.stdev(present) if len(present) > 1 else 0.0
    missing = f" ({len(values) - len(present)} none)" if len(present) < len(values) else ""
    return f"{statistics.fmean(present):.{digits}f} ± {std:.{digits}f}{missing}"


def reached_text(values: list[int | None]) -> str:
    """Evaluations to reach the reference per seed ('never' where it was not reached)."""
    return ", ".join("never" if v is None else str(v) for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problem", help="problem folder, e.g. problems/eplb")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    parser.add_argument("--evaluations", type=int, default=60, help="validation evaluation budget per run")
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--islands", type=int, default=2, help="islands of the QUBE configuration")
    parser.add_argument("--out", default=None, help="run folders go here (default runs/ablation-<problem>)")
    parser.add_argument("--only", action="append", default=None, help="run only this configuration (repeatable)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)

    problem_dir = Path(args.problem)
    problem = load_problem(problem_dir)
    out = Path(args.out) if args.out else ROOT / "runs" / f"ablation-{problem.name}"
    out.mkdir(parents=True, exist_ok=True)
    configs = configurations(args.islands)
    if args.only:
        unknown = [name for name in args.only if name not in configs]
        if unknown:
            print(f"error: unknown configuration {unknown[0]!r}; choose from {sorted(configs)}", file=sys.stderr)
            return 2
        configs = {name: extra for name, extra in configs.items() if name in args.only}
    metrics = METRICS.get(problem.name, ())
    target = reference_fitness(problem, out)
    say(f"reference validation fitness: {target}")
    results: dict[str, list[dict[str, Any]]] = {}
    for name, extra in configs.items():
        for seed in range(args.seeds):
            run_dir = out / f"{name.split(' (')[0].replace(' ', '-').replace('+', 'and')}-seed{seed}"
            if finished(run_dir):
                say(f"{name}, seed {seed}: reusing {run_dir}")
            elif name == RANDOM:
                say(f"{name}, seed {seed}: {run_dir}")
                asyncio.run(random_search(problem, run_dir, seed, args.evaluations))
            else:
                say(f"{name}, seed {seed}: beam evolve in {run_dir}")
                run_evolve(problem_dir, run_dir, seed, args, extra)
            results.setdefault(name, []).append(summarise(run_dir, metrics, target))

    # a stricter, budget-relative target: the median over every run of every configuration of its final best
    finals = [r["fitness"] for runs in results.values() for r in runs if r["fitness"] is not None]
    strict = statistics.median(finals) if finals else None
    header = ["configuration", "best fitness", *(m.replace("balancedness", "bal") for m in metrics),
              "evaluations to reach the reference", "evaluations to reach the median best"]
    rows = []
    for name, runs in results.items():
        rows.append([name, mean_std([r["fitness"] for r in runs], 4),
                     *(mean_std([r.get(m) for r in runs], 2 if m == "ms_per_call" else 4) for m in metrics),
                     reached_text([r["reached"] for r in runs]),
                     reached_text([evaluations_to_reach(r["trajectory"], strict) for r in runs])])
    print(f"{problem.name}: {args.seeds} seeds, {args.evaluations} evaluations, {args.generations} generations, "
          f"population {args.population}; mean ± std over seeds (validation split); reference fitness "
          f"{'—' if target is None else f'{target:.4f}'}; median best over all runs "
          f"{'—' if strict is None else f'{strict:.4f}'}")
    tables = import_by_path(ROOT / "benchmarks" / "evolve_eplb.py", "beam_bench_evolve_eplb")
    tables.print_table(header, rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
