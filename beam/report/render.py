"""Assemble the report page: data from :mod:`beam.report.data`, figures, the jinja2 template."""
from __future__ import annotations

import datetime as dt
import html
import statistics
from pathlib import Path
from typing import Any

import jinja2

from beam.report import data as d
from beam.report import figures as f

TEMPLATES = Path(__file__).with_name("templates")
TOP_PROGRAMS = 20   # besides lineage and Pareto front, the code of this many best programs is in the page


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3) else f"{value:.{digits}f}"
    return html.escape(str(value))


def _programs_with_code(run: d.RunData, graph, front: list[int]) -> list[dict[str, Any]]:
    """Programs whose code the page carries: the lineage, the Pareto front and the best ``TOP_PROGRAMS``."""
    valid = sorted((e for e in run.evaluations if e["valid"] and e["fitness"] is not None),
                   key=lambda e: (-e["fitness"], e["id"]))
    ids = set(graph.nodes if graph is not None else ()) | set(front) | {e["program_id"] for e in valid[:TOP_PROGRAMS]}
    evaluation = {e["program_id"]: e for e in run.evaluations}
    rows = []
    for pid in sorted(ids):
        program, ev = run.programs[pid], evaluation.get(pid)
        rows.append({"id": pid, "generation": program["generation"], "operation": d.operation(program),
                     "parents": program["parents"], "source": program["source"],
                     "fitness": ev["fitness"] if ev and ev["valid"] else None,
                     "error": None if ev is None or ev["valid"] else ev["error"]})
    return rows


def summary_rows(run: d.RunData) -> list[tuple[str, Any]]:
    """The key/value table at the top of the page."""
    options = (run.items.get("options") or {}).get("all") or {}
    summary = run.items.get("summary") or {}
    valid = sum(e["valid"] for e in run.evaluations)
    started = min((p["created"] for p in run.programs.values()), default=None)
    last = max((e["created"] for e in run.evaluations), default=None)
    rows = [("problem", run.problem), ("status", run.status),
            ("generator", options.get("generator")), ("model", options.get("model") or "—"),
            ("generations × population", f"{options.get('generations')} × {options.get('population')}"),
            ("evaluations (valid / all)", f"{valid} / {len(run.evaluations)}"),
            ("programs stored", len(run.programs)),
            ("best validation fitness", summary.get("best_fitness") or max(
                (e["fitness"] for e in run.evaluations if e["valid"] and e["fitness"] is not None), default=None)),
            ("reference solver fitness", run.reference_fitness)]
    test = summary.get("test") or {}
    if test.get("valid"):
        rows.append(("best program on the test split", test.get("fitness")))
    if started and last:
        rows.append(("evaluation time span", f"{(last - started) / 60:.1f} min"))
    durations = [e["duration_s"] for e in run.evaluations]
    if durations:
        rows.append(("median evaluation time", f"{statistics.median(durations):.2f} s"))
    return rows


def render(run: d.RunData, live: str | None = None) -> str:
    """The whole page as one HTML string; ``live`` is the change stamp when served with live refresh."""
    best = d.best_program(run)
    graph = d.lineage_graph(run, best["id"]) if best else None
    points = d.balance_speed_points(run)
    front = [p[2] for p in d.pareto_front(points)]
    figures: dict[str, str | None] = {}
    candidates = {
        "evaluations": f.over_evaluations(run) if run.evaluations else None,
        "generations": f.over_generations(run) if run.evaluations else None,
        "scatter": f.balance_speed(run),
        "lineage": f.lineage(graph, best["id"]) if graph is not None else None,
        "memory": f.memory_over_time(run),
        "memory_functions": f.memory_functions(run),
        "errors": f.errors_by_kind(d.evaluation_errors(run)),
        "calls": f.calls_by_operation(d.generator_usage(run)),
    }
    for key, figure in candidates.items():
        figures[key] = f.fragment(figure, f"fig-{key}") if figure is not None else None
    names = d.memory_names(run)
    usage = d.generator_usage(run)
    totals = {key: sum(r[key] for r in usage) for key in ("calls", "prompt_tokens", "completion_tokens", "cost",
                                                          "latency_s", "errors")}
    return _environment().get_template("report.html.j2").render(
        run=run, title=f"BEAM run {run.run_dir.resolve().name}", summary=summary_rows(run), best=best,
        figures=figures, plotly_js=f.plotly_js(), front=front, lineage_nodes=sorted(graph) if graph else [],
        programs=_programs_with_code(run, graph, front), memory_events=run.memory_events, memory_names=names,
        memory_entries=run.memory_entries, promoted=d.promoted_functions(run), usage=usage, totals=totals,
        fix=d.fix_loop(run), generator_errors=d.generator_errors(run), errors=d.evaluation_errors(run),
        generations=d.generation_log(run), live=live,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))
