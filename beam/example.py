"""The deliverable of a run: a standalone solver in ``examples/<problem>/`` with its scores and lineage."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

from beam.evaluate.executor import Executor
from beam.evaluate.local import evaluate_source
from beam.evaluate.service import Scored
from beam.problem import Problem
from beam.program import Program, ProgramError
from beam.store import RunStore

SHOWN_METRICS = ("fitness", "balancedness_gpu", "balancedness_gpu_same_window", "balancedness_expert",
                 "group_locality", "ms_per_call", "speedup_vs_reference")


def _resolver(run_dir: Path):
    def resolve(module: str) -> str:
        if module.split(".")[0] == "memory":
            path = run_dir / Path(*module.split(".")).with_suffix(".py")
        else:
            spec = importlib.util.find_spec(module)
            if spec is None or spec.origin is None:
                raise ProgramError(f"cannot find module {module}")
            path = Path(spec.origin)
        return path.read_text(encoding="utf-8")
    return resolve


def standalone_source(source: str, run_dir: Path) -> str:
    """The program with every HeuBase and memory import inlined: needs only torch/numpy/stdlib."""
    program = Program.parse(source)
    return program.inline_imports(prefixes=("heubase.", "memory."), resolver=_resolver(run_dir)).source


def score_on_test(problem: Problem, store: RunStore, best: Scored, run_dir: Path,
                  executor: Executor | None = None) -> dict[str, Any]:
    """Evaluate the standalone form of ``best`` on the test split (once; stored under ``split='test'``).

    It runs on ``executor`` when given (the run's own), else here in this thread.
    """
    stored = store.evaluation(best.program_id, "test")
    if stored is not None:
        return dict(stored.get("metrics") or {}, valid=bool(stored["valid"]), fitness=stored["fitness"],
                    error=stored["error"])
    started = time.perf_counter()
    try:
        code = standalone_source(best.source, run_dir)
    except ProgramError as exc:
        result: dict[str, Any] = {"valid": False, "fitness": None, "error": f"program: {exc}",
                                  "error_kind": "program"}
    else:
        if executor is not None:
            result = asyncio.run(executor.submit(code, "test", {}))
        else:
            result = evaluate_source(problem, code, "test", {})
    store.record_evaluation(best.program_id, "test", result, time.perf_counter() - started)
    return result


def lineage(store: RunStore, program_id: int, limit: int = 60) -> list[dict[str, Any]]:
    """Ancestors of a program (breadth first): id, role, generation, parents, validation fitness."""
    seen, queue, rows = set(), [program_id], []
    while queue and len(rows) < limit:
        pid = queue.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        program = store.get_program(pid)
        if program is None:
            continue
        evaluation = store.evaluation(pid, "validation")
        rows.append({"id": pid, "role": program["role"], "kind": program["kind"],
                     "generation": program["generation"], "parents": program["parents"],
                     "fitness": evaluation["fitness"] if evaluation else None})
        queue.extend(program["parents"])
    return rows


def _table(result: dict[str, Any], report: dict[str, Any] | None = None) -> str:
    groups = report["groups"] if report else "shapes"
    metrics = ["fitness", *report["metrics"]] if report else SHOWN_METRICS
    lines = [f"| {groups.rstrip('s')} | metric | evolved | reference |", "|---|---|---:|---:|"]
    for name, shape in result.get(groups, {}).items():
        ref = shape.get("reference", {})
        for metric in metrics:
            if metric in shape:
                ref_value = 1.0 if metric == "speedup_vs_reference" else ref.get(metric)
                fmt = (lambda v: "" if v is None else f"{v:.4f}")
                lines.append(f"| {name} | {metric} | {fmt(shape[metric])} | {fmt(ref_value)} |")
    return "\n".join(lines)


def emit_example(problem: Problem, store: RunStore, best: Scored, test_result: dict[str, Any], options: Any,
                 run_dir: Path, examples_dir: Path) -> Path:
    """Write ``solver.py``, ``README.md`` and ``lineage.json`` for the best program."""
    out = examples_dir / problem.name
    out.mkdir(parents=True, exist_ok=True)
    code = standalone_source(best.source, run_dir)
    optional = "; numba, where installed, compiles its kernels (optional)" if "import numba" in code else ""
    header = (f"# Evolved {problem.name} solver (BEAM run {run_dir.name}, program {best.program_id}).\n"
              f"# Standalone: depends only on torch/numpy and the standard library{optional}.\n"
              f"# Validation fitness {best.fitness:.4f}; test fitness {test_result['fitness']:.4f}.\n"
              f"# README.md beside this file says how it was produced and scored.\n")
    (out / "solver.py").write_text(header + code, encoding="utf-8")
    ancestry = lineage(store, best.program_id)
    (out / "lineage.json").write_text(json.dumps(ancestry, indent=2), encoding="utf-8")
    settings = getattr(options, "__dict__", {})
    command = (f"beam evolve problems/{problem.name} --generator {settings.get('generator')} "
               f"--seed {settings.get('seed')} --generations {settings.get('generations')} "
               f"--population {settings.get('population')} --evaluations {settings.get('evaluations')}")
    readme = [
        f"# Evolved solver for {problem.name}",
        "",
        f"`solver.py` is the best program of BEAM run `{run_dir.name}` (program {best.program_id}), with every "
        "HeuBase and adaptive-memory function inlined so it runs without this repository.",
        "",
        "## How it was produced",
        "",
        f"    {command}",
        "",
        f"Generator: `{settings.get('generator')}`; education: `{settings.get('mode')}`; "
        f"calibration: {'CMA-ES' if settings.get('calibrate') else 'off'}; "
        f"adaptive memory: {'on' if settings.get('memory') else 'off'}.",
        "",
        "## Scores on the test split (measured by the evaluator, side by side with the reference)",
        "",
        f"Overall fitness (mean over {(problem.report() or {}).get('groups', 'shapes')}): "
        f"**{test_result['fitness']:.4f}**" + (f"; windows {test_result['windows']}." if "windows" in test_result else "."),
        "",
        _table(test_result, problem.report()),
        "",
        f"Re-measure with: `beam eval problems/{problem.name} examples/{problem.name}/solver.py --split test`",
        "",
        "## Lineage",
        "",
        "Ancestors, nearest first (full list in `lineage.json`):",
        "",
    ]
    for row in ancestry[:15]:
        fitness = "invalid" if row["fitness"] is None else f"{row['fitness']:.4f}"
        readme.append(f"- program {row['id']}: {row['role'] or row['kind']} (generation {row['generation']}, "
                      f"validation fitness {fitness}, parents {row['parents']})")
    (out / "README.md").write_text("\n".join(readme) + "\n", encoding="utf-8")
    return out
