"""What `beam report` shows, extracted from a run database as plain data (no HTML here).

:func:`load_run` reads everything once into a :class:`RunData`; the other
functions turn it into series, tables and graphs the renderer draws.
"""
from __future__ import annotations

import difflib
import sqlite3
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from beam.program import Program, ProgramError
from beam.store import DB_NAME, RunStore, StoreError

SPLIT = "validation"
BALANCE_METRIC = "balancedness_gpu"   # the quality axis of the balance-vs-speed scatter
SPEED_METRIC = "ms_per_call"          # the speed axis (lower is better)
_LOWER_IS_BETTER = ("ms_", "_ms", "time", "seconds", "latency", "cost")
_MEMORY_SIZE_CHANGE = {"insert": 1, "evict": -1, "prune": -1}


class ReportError(ValueError):
    """The run folder has no readable run database."""


@dataclass
class RunData:
    """Everything a report needs, read from one run database."""

    run_dir: Path
    items: dict[str, Any]
    programs: dict[int, dict[str, Any]]
    evaluations: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    memory_events: list[dict[str, Any]]
    memory_entries: list[dict[str, Any]]
    populations: dict[int, list[int]]
    events: list[dict[str, Any]]
    tests: dict[int, dict[str, Any]] = field(default_factory=dict)   # program id -> its test-split evaluation
    reference_fitness: float | None = None
    promoted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problem(self) -> str:
        return str((self.items.get("options") or {}).get("problem", "?"))

    @property
    def status(self) -> str:
        return str(self.items.get("status", "unknown"))


def _since_last_start(rows: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows written by the last (re)start of the run: a resumed run replays and re-logs everything before it."""
    starts = [e["created"] for e in events if e["kind"] == "run_started"]
    return [r for r in rows if r["created"] >= starts[-1]] if starts else rows


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder's ``run.db``; :class:`ReportError` when it is missing or not a BEAM run database."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder")
    if not (run_dir / DB_NAME).is_file():
        raise ReportError(f"{run_dir}: no run database ({DB_NAME}) in this folder")
    try:
        with RunStore(run_dir) as store:
            events = store.events()
            data = RunData(
                run_dir=run_dir, items=store.run_items(),
                programs={p["id"]: p for p in store.programs()},
                evaluations=store.evaluations(split=SPLIT), calls=store.calls(),
                memory_events=_since_last_start(store.memory_events(), events),
                memory_entries=store.load_memory(),
                populations={}, events=_since_last_start(events, events))
            for row in store.conn.execute("SELECT DISTINCT generation FROM population ORDER BY generation"):
                data.populations[int(row[0])] = store.population(int(row[0]))
            data.promoted = [e["detail"] for e in events if e["kind"] == "promote"]
            data.tests = {e["program_id"]: e for e in store.evaluations(split="test")}
    except StoreError as exc:
        raise ReportError(str(exc)) from None
    except sqlite3.Error as exc:
        raise ReportError(f"{run_dir / DB_NAME}: unreadable run database: {exc}") from None
    data.reference_fitness = reference_fitness(data)
    return data


def reference_fitness(data: RunData) -> float | None:
    """Fitness the reference solver would get, by the problem's own ``shape_fitness`` (speedup 1 by definition).

    None when the problem folder or that function is not available here.
    """
    from beam.evolve import PROJECT_ROOT
    from beam.problem import ProblemError, load_problem

    folder = PROJECT_ROOT / "problems" / data.problem
    shapes = next((e["metrics"].get("shapes") for e in data.evaluations if e["valid"] and e["metrics"].get("shapes")),
                  None)
    if not folder.is_dir() or not shapes:
        return None
    try:
        problem = load_problem(folder)
        shape_fitness = getattr(problem.evaluator(), "shape_fitness", None)
        if shape_fitness is None:
            return None
        values = [shape_fitness(problem, s["reference"], 1.0) for s in shapes.values()]
    except (ProblemError, KeyError, TypeError, ImportError):
        return None
    return statistics.fmean(values)


# ----------------------------------------------------------------------------- metrics over time

def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (times, costs); fitness and balance are higher-better."""
    return any(part in metric for part in _LOWER_IS_BETTER)


def metric_names(data: RunData) -> list[str]:
    """Numeric metrics worth plotting: fitness first, then those the reference is also measured on."""
    names: list[str] = ["fitness"]
    for evaluation in data.evaluations:
        metrics = evaluation["metrics"]
        reference = metrics.get("reference") or {}
        for key, value in metrics.items():
            if key not in names and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and (key in reference or key.endswith("_vs_reference")):
                names.append(key)
    return names


def metric_value(evaluation: dict[str, Any], metric: str) -> float | None:
    """One metric of a stored evaluation (``fitness`` is a column, the rest live in the metrics JSON)."""
    value = evaluation["fitness"] if metric == "fitness" else evaluation["metrics"].get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def reference_value(data: RunData, metric: str) -> float | None:
    """The reference solver's value of ``metric``: median over every evaluation's measurement of it."""
    if metric == "fitness":
        return data.reference_fitness
    if metric.endswith("_vs_reference"):
        return 1.0
    values = [e["metrics"]["reference"][metric] for e in data.evaluations
              if isinstance((e["metrics"].get("reference") or {}).get(metric), (int, float))]
    return statistics.median(values) if values else None


def series_over_evaluations(data: RunData, metric: str) -> dict[str, list]:
    """Per valid evaluation, in order: its value, the best so far and the median so far.

    ``x`` counts every evaluation (valid or not), so the axis is the budget spent.
    """
    lower = lower_is_better(metric)
    out: dict[str, list] = {"x": [], "program": [], "value": [], "best": [], "median": []}
    seen: list[float] = []
    for index, evaluation in enumerate(data.evaluations, start=1):
        value = metric_value(evaluation, metric) if evaluation["valid"] else None
        if value is None:
            continue
        seen.append(value)
        out["x"].append(index)
        out["program"].append(evaluation["program_id"])
        out["value"].append(value)
        out["best"].append(min(seen) if lower else max(seen))
        out["median"].append(statistics.median(seen))
    return out


def series_over_generations(data: RunData, metric: str) -> dict[str, list]:
    """Per generation: best and median of ``metric`` over the valid programs evaluated in it, and the best so far."""
    lower = lower_is_better(metric)
    by_generation: dict[int, list[float]] = {}
    for evaluation in data.evaluations:
        program = data.programs.get(evaluation["program_id"])
        value = metric_value(evaluation, metric) if evaluation["valid"] else None
        if program is not None and value is not None:
            by_generation.setdefault(int(program["generation"]), []).append(value)
    out: dict[str, list] = {"x": [], "best": [], "median": [], "best_so_far": []}
    running: float | None = None
    for generation in sorted(by_generation):
        values = by_generation[generation]
        best = min(values) if lower else max(values)
        running = best if running is None else (min(running, best) if lower else max(running, best))
        out["x"].append(generation)
        out["best"].append(best)
        out["median"].append(statistics.median(values))
        out["best_so_far"].append(running)
    return out


# ----------------------------------------------------------------------------- balance vs speed

def pareto_front(points: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Points ``(speed, balance, id)`` not dominated by another (lower speed and higher balance are better).

    Sorted by speed. A point is dominated when another is at least as good on both axes and better on one.
    """
    front: list[tuple[float, float, int]] = []
    best_balance = float("-inf")
    for speed, balance, ident in sorted(points, key=lambda p: (p[0], -p[1], p[2])):
        if balance > best_balance:
            front.append((speed, balance, ident))
            best_balance = balance
    return front


def balance_speed_points(data: RunData) -> list[tuple[float, float, int]]:
    """``(ms per call, balance, program id)`` of every valid evaluation that has both metrics."""
    points = []
    for evaluation in data.evaluations:
        speed, balance = metric_value(evaluation, SPEED_METRIC), metric_value(evaluation, BALANCE_METRIC)
        if evaluation["valid"] and speed is not None and balance is not None:
            points.append((speed, balance, evaluation["program_id"]))
    return points


# ----------------------------------------------------------------------------- best program and lineage

def best_program_id(data: RunData) -> int | None:
    """Highest validation fitness (ties: evaluated first), as :meth:`RunStore.best` ranks."""
    valid = [e for e in data.evaluations if e["valid"] and e["fitness"] is not None]
    return max(valid, key=lambda e: (e["fitness"], -e["id"]))["program_id"] if valid else None


def operation(program: dict[str, Any]) -> str:
    """What made a program: crossover, mutation or initial (the GA), then fill, fix or calibration (education)."""
    role, origin = program["role"], (program.get("meta") or {}).get("education_of", "")
    if role in ("fix", "calibration"):
        return role
    return f"{origin} + fill" if origin in ("crossover", "mutation") else "initial fill" if origin == "initial" \
        else role


def lineage_graph(data: RunData, program_id: int) -> nx.DiGraph:
    """The program and all its ancestors; edges point from parent to child.

    Node attributes: ``generation``, ``operation``, ``fitness`` (None when invalid), ``layer`` (longest
    distance from a root, for a layered layout).
    """
    fitness = {e["program_id"]: e["fitness"] if e["valid"] else None for e in data.evaluations}
    graph = nx.DiGraph()
    stack, seen = [program_id], set()
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in data.programs:
            continue
        seen.add(pid)
        program = data.programs[pid]
        graph.add_node(pid, generation=program["generation"], operation=operation(program), fitness=fitness.get(pid))
        for parent in dict.fromkeys(program["parents"]):
            if parent in data.programs and parent != pid:
                graph.add_edge(parent, pid)
                stack.append(parent)
    for node in nx.topological_sort(graph):
        graph.nodes[node]["layer"] = max((graph.nodes[p]["layer"] + 1 for p in graph.predecessors(node)), default=0)
    return graph


def lineage_layout(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Node positions: one column per layer (ancestors left, the program right), by networkx."""
    if graph.number_of_nodes() == 1:
        return {node: (0.0, 0.0) for node in graph}
    pos = nx.multipartite_layout(graph, subset_key="layer", align="vertical")
    width = Counter(graph.nodes[n]["layer"] for n in graph)
    spread = max((abs(y) for _, y in pos.values()), default=0.0) or 0.5
    out = {}
    for node, (x, y) in pos.items():
        layer = graph.nodes[node]["layer"]
        if width[layer] == 1:  # a lone node zigzags, so edges that skip a layer do not hide behind it
            y = spread * (0.5 if layer % 2 else -0.5)
        out[node] = (float(x), float(y))
    return out


def hyperparameters(source: str) -> dict[str, float | int]:
    """The ``#Hyperparameter#`` block of a program (empty when it has none or does not parse)."""
    try:
        return {name: hp.value for name, hp in Program.parse(source).hyperparameters().items()}
    except ProgramError:
        return {}


def structural_parent(data: RunData, program_id: int) -> int | None:
    """First GA parent of the individual a program belongs to (walking up through calibration and fix)."""
    program = data.programs.get(program_id)
    while program is not None and program["role"] in ("calibration", "fix") and program["parents"]:
        program = data.programs.get(program["parents"][0])
    if program is None or not program["parents"] or program["id"] == program_id:
        return None
    return program["parents"][0]


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> list[tuple[str, str]]:
    """``(kind, line)`` pairs of a unified diff; kind is ``add``, ``del``, ``hunk`` or ``same``."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm=""):
        kind = "hunk" if line.startswith(("@@", "---", "+++")) else "add" if line.startswith("+") \
            else "del" if line.startswith("-") else "same"
        out.append((kind, line))
    return out


def _test_result(data: RunData, program_id: int) -> dict[str, Any] | None:
    """The program's test-split result (fitness and metrics in one dict), or None when it was not tested."""
    evaluation = data.tests.get(program_id)
    if evaluation is None:
        return None
    return {**evaluation["metrics"], "valid": evaluation["valid"], "fitness": evaluation["fitness"]}


def best_program(data: RunData) -> dict[str, Any] | None:
    """The best program with its metrics, parent diff, GA-parent diff and hyperparameters before/after CMA-ES."""
    pid = best_program_id(data)
    if pid is None:
        return None
    program = data.programs[pid]
    evaluation = next(e for e in data.evaluations if e["program_id"] == pid)
    out: dict[str, Any] = {"id": pid, "program": program, "operation": operation(program),
                           "fitness": evaluation["fitness"], "metrics": evaluation["metrics"],
                           "test": _test_result(data, pid), "diffs": [],
                           "calibrated": program["role"] == "calibration"}
    parent_id = program["parents"][0] if program["parents"] else None
    if parent_id in data.programs:
        parent = data.programs[parent_id]
        out["diffs"].append((f"against its parent, program {parent_id} ({operation(parent)})",
                             unified_diff(parent["source"], program["source"], f"program {parent_id}",
                                          f"program {pid}")))
    ga_parent = structural_parent(data, pid)
    if ga_parent is not None and ga_parent != parent_id and ga_parent in data.programs:
        out["diffs"].append((f"against its GA parent, program {ga_parent}",
                             unified_diff(data.programs[ga_parent]["source"], program["source"],
                                          f"program {ga_parent}", f"program {pid}")))
    after = hyperparameters(program["source"])
    before = hyperparameters(data.programs[parent_id]["source"]) if out["calibrated"] and parent_id else after
    out["hyperparameters"] = [(name, before.get(name), value) for name, value in after.items()]
    return out


# ----------------------------------------------------------------------------- adaptive memory

def memory_timeline(data: RunData) -> dict[str, list]:
    """Per generation with memory events: the memory size after it and how many events of each kind."""
    kinds = sorted({e["event"] for e in data.memory_events})
    generations = sorted({e["generation"] for e in data.memory_events})
    counts = {kind: [0] * len(generations) for kind in kinds}
    size, sizes = 0, []
    for position, generation in enumerate(generations):
        for event in (e for e in data.memory_events if e["generation"] == generation):
            counts[event["event"]][position] += 1
            size += _MEMORY_SIZE_CHANGE.get(event["event"], 0)
        sizes.append(size)
    return {"x": generations, "size": sizes, "counts": counts}


def memory_names(data: RunData) -> dict[str, str]:
    """Each name a memory function had → its latest name (``rename`` events chain them)."""
    latest: dict[str, str] = {}
    for event in data.memory_events:
        if event["event"] == "rename":
            old = event["detail"].get("from")
            if old:
                latest[old] = event["function_name"]
    for entry in data.memory_entries:  # runs recorded before rename events: match by program and origin
        origin = (entry.get("meta") or {}).get("origin")
        for event in data.memory_events:
            if event["event"] in ("insert", "replace") and event["program_id"] == entry["program_id"] \
                    and event["detail"].get("origin") == origin and event["function_name"] != entry["name"]:
                latest.setdefault(event["function_name"], entry["name"])
    resolved = {}
    for name in latest:
        final, hops = name, 0
        while final in latest and hops < 100:
            final, hops = latest[final], hops + 1
        resolved[name] = final
    return resolved


def memory_function_events(data: RunData) -> list[dict[str, Any]]:
    """Events of functions that entered the memory (insert, replace, use, evict, prune), under their latest name.

    A ``replace`` also gives a ``replaced`` event to the function it pushed out; ``discard`` (a candidate
    that never entered) and ``rename`` are left out.
    """
    names = memory_names(data)
    out = []
    for event in data.memory_events:
        if event["event"] in ("discard", "rename"):
            continue
        out.append({"generation": event["generation"], "event": event["event"], "score": event["score"],
                    "program_id": event["program_id"], "name": names.get(event["function_name"], event["function_name"])})
        replaced = event["detail"].get("replaced") if event["event"] == "replace" else None
        if replaced:
            out.append({"generation": event["generation"], "event": "replaced", "score": None, "program_id": None,
                        "name": names.get(replaced, replaced)})
    return out


def promoted_functions(data: RunData) -> list[dict[str, Any]]:
    """Functions promoted to HeuBase from this run: logged ``promote`` events, else modules naming this run folder."""
    if data.promoted:
        return data.promoted
    from beam.evolve import PROJECT_ROOT

    folder = PROJECT_ROOT / "heubase" / data.problem / "evolved"
    marker = f"Run folder: {data.run_dir.resolve()}\n"
    found = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        try:
            if marker in path.read_text(encoding="utf-8")[:2000]:
                found.append({"name": path.stem, "path": str(path), "program_id": None, "score": None})
        except OSError:
            continue
    return found


# ----------------------------------------------------------------------------- generator and errors

def generator_usage(data: RunData) -> list[dict[str, Any]]:
    """Model calls grouped by (operation, model): calls, tokens, cost, latency, errors."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for call in data.calls:
        row = groups.setdefault((call["operation"], call["model"]), {
            "operation": call["operation"], "model": call["model"], "calls": 0, "prompt_tokens": 0,
            "completion_tokens": 0, "cost": 0.0, "latency_s": 0.0, "errors": 0})
        row["calls"] += 1
        for key in ("prompt_tokens", "completion_tokens", "cost", "latency_s"):
            row[key] += call[key] or 0
        row["errors"] += call["error"] is not None
    return [groups[key] for key in sorted(groups)]


def fix_loop(data: RunData) -> dict[str, Any]:
    """Fix-loop outcome: attempts (programs a ``fix`` produced), how many of them were valid, and the rate."""
    valid = {e["program_id"]: e["valid"] for e in data.evaluations}
    fixes = [pid for pid, p in data.programs.items() if p["role"] == "fix" and pid in valid]
    ok = sum(valid[pid] for pid in fixes)
    return {"attempts": len(fixes), "valid": ok, "rate": ok / len(fixes) if fixes else None}


def generator_errors(data: RunData) -> list[dict[str, Any]]:
    """Generator failures logged by the engine: the GA's own operations and each education's."""
    out = []
    for event in data.events:
        detail = event["detail"]
        if event["kind"] == "generator_error":
            out.append({"generation": detail.get("generation"), "operation": detail.get("operation"),
                        "error": detail.get("error")})
        elif event["kind"] == "education":
            out += [{"generation": detail.get("generation"), "operation": "education", "error": text}
                    for text in detail.get("errors") or []]
    return out


def evaluation_errors(data: RunData) -> list[dict[str, Any]]:
    """Invalid evaluations by ``error_kind``: count and the first error message of each kind, most frequent first."""
    kinds: dict[str, dict[str, Any]] = {}
    for evaluation in data.evaluations:
        if evaluation["valid"]:
            continue
        kind = evaluation["error_kind"] or "unknown"
        row = kinds.setdefault(kind, {"kind": kind, "count": 0, "example": evaluation["error"] or "",
                                      "program_id": evaluation["program_id"]})
        row["count"] += 1
    return sorted(kinds.values(), key=lambda r: (-r["count"], r["kind"]))


def generation_log(data: RunData) -> list[dict[str, Any]]:
    """The ``generation`` progress events, one per generation (the last logged wins)."""
    rows = {e["detail"].get("generation"): e["detail"] for e in data.events if e["kind"] == "generation"}
    return [rows[g] for g in sorted(g for g in rows if g is not None)]
