"""Evolve an EPLB solver offline and compare it with the reference and hand-written HeuBase compositions.

Runs ``beam evolve problems/eplb`` with the offline composer (resumable: a second
run of this script replays the stored run instead of recomputing it), then, in
this same process and one after the other, scores on the test split the
reference, the best hand-written composition (picked on validation) and the
evolved solver, and prints the tables side by side with a verdict block.

    python benchmarks/evolve_eplb.py [--evaluations 200] [--generations 6] [--population 4]
                                     [--seed 0] [--run-dir DIR] [--markdown] [--no-run] [--write-example]
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.evolve import EvolveOptions, ResumeMismatch, best_program, evolve  # noqa: E402
from beam.example import standalone_source  # noqa: E402
from beam.problem import Problem, import_by_path, load_problem  # noqa: E402
from beam.store import RunStore  # noqa: E402

AIM_MS = 2.0
Row = list[str]


def baselines_module():
    """The sibling benchmark ``eplb_baselines.py`` (its solver sources and table printer)."""
    return import_by_path(ROOT / "benchmarks" / "eplb_baselines.py", "beam_bench_eplb_baselines")


def hand_written_candidates() -> list[tuple[str, str]]:
    """(name, source) of the single HeuBase compositions to choose from on validation."""
    baselines = baselines_module()
    candidates = [(name, baselines.composition_source(*parts)) for name, parts in baselines.ROWS if isinstance(parts, tuple)]
    if not any(name == "greedy + Karmarkar-Karp" for name, _ in candidates):
        candidates.append(("greedy + Karmarkar-Karp",
                           baselines.composition_source("replicate_greedy", "pack_karmarkar_karp", None)))
    try:
        has_fast = importlib.util.find_spec("heubase.eplb.fast") is not None
    except ImportError:
        has_fast = False
    if has_fast:
        candidates.append(("fast pipeline (heubase.eplb.fast.rebalance_fast)", baselines.FAST))
        candidates.append(("numpy pipeline, proportional replication (heubase.eplb.lean.rebalance_lean)",
                           baselines.LEAN))
        candidates.append(("numpy pipeline, packing-aware replica moves (rebalance_lean repack=6)",
                           baselines.LEAN_REPACK))
    return candidates


def say(message: str) -> None:
    """Progress to stderr (stdout holds only the tables)."""
    print(message, file=sys.stderr, flush=True)


def progress(info: dict[str, Any]) -> None:
    """Compact progress lines from ``evolve``."""
    if info.get("phase") in ("selected", "test split", "initial population"):
        best = info.get("best_fitness")
        best_text = "" if best is None else f" best {best:.4f}"
        spent = info.get("evaluations")
        spent_text = "" if spent is None else f" · {spent} evaluations"
        say(f"gen {info.get('generation', 0)} {info['phase']}{best_text}{spent_text}")


def generation_rows(store: RunStore) -> list[Row]:
    """Best validation fitness per generation (the last record of each: a resumed run records again)."""
    latest: dict[int, dict[str, Any]] = {}
    for event in store.events(kind="generation"):
        latest[int(event["detail"]["generation"])] = event["detail"]
    born = {p["id"]: p["generation"] for p in store.programs()}
    done = [(born.get(e["program_id"], 0), e["fitness"] if e["valid"] else None)
            for e in store.evaluations(split="validation")]
    rows = []
    for generation in sorted(latest):
        detail = latest[generation]
        best = detail.get("best_fitness")
        upto = [fitness for made, fitness in done if made <= generation]
        scored = [f for f in upto if f is not None]
        rows.append([str(generation), "—" if best is None else f"{best:.4f}", str(detail.get("best_program")),
                     f"{max(scored):.4f}" if scored else "—", str(len(upto))])
    return rows


def evaluate_source(problem: Problem, source: str, split: str, tmp: Path, tag: str) -> tuple[Path, dict[str, Any]]:
    """Write ``source`` to a file and score it on ``split``."""
    path = tmp / f"{tag}.py"
    path.write_text(source, encoding="utf-8")
    return path, problem.evaluate(path, split=split)


def per_pair(problem: Problem, path: Path, tag: str) -> dict[str, dict[str, list[float]]]:
    """Per window pair GPU balance (next and same window) of a solver on test, computed in this process."""
    import torch

    torch.set_num_threads(1)
    evaluator = problem.evaluator()
    metrics = evaluator.metrics
    windows = evaluator.load_windows(problem, "test")
    solve = getattr(import_by_path(path, f"beam_bench_solver_{tag}"), problem.entry)
    layers, experts = windows.shape[1:]
    out: dict[str, dict[str, list[float]]] = {}
    for shape in problem.config["shapes"]:
        nxt, same = [], []
        for t in range(len(windows) - 1):
            outputs = solve(torch.from_numpy(windows[t].copy()), shape["num_replicas"], shape["num_groups"],
                            shape["num_nodes"], shape["num_gpus"])
            arrays = [o.contiguous().numpy().copy() if isinstance(o, torch.Tensor) else o for o in outputs]
            plan = metrics.check_plan(arrays, layers, experts, shape["num_replicas"])
            scores = metrics.plan_metrics(plan, windows[t], windows[t + 1], shape)
            nxt.append(scores["balancedness_gpu"])
            same.append(scores["balancedness_gpu_same_window"])
        out[shape["name"]] = {"next": nxt, "same": same}
    return out


def in_process_ms(problem: Problem, solvers: list[tuple[str, Path]], repeats: int = 3) -> dict[str, dict[str, float]]:
    """Median warm ms per call of each solver, called in this process on the test windows (one torch thread).

    The solvers take turns on every window, so machine load hits them alike. This is the time a serving
    process calling the solver in a loop sees; the evaluator's figure adds the sandbox round trip and cold
    caches (the reference runs between two calls of the candidate).
    """
    import time

    import torch

    torch.set_num_threads(1)
    evaluator = problem.evaluator()
    windows = evaluator.load_windows(problem, "test")
    solve = {name: getattr(import_by_path(path, f"beam_bench_timed_{index}"), problem.entry)
             for index, (name, path) in enumerate(solvers)}
    out: dict[str, dict[str, float]] = {name: {} for name, _ in solvers}
    for shape in problem.config["shapes"]:
        args = (shape["num_replicas"], shape["num_groups"], shape["num_nodes"], shape["num_gpus"])
        times: dict[str, list[float]] = {name: [] for name, _ in solvers}
        for turn in range(repeats * len(windows) + 2):
            weight = torch.from_numpy(windows[turn % len(windows)].copy())
            for name, _ in (solvers if turn % 2 == 0 else solvers[::-1]):
                start = time.perf_counter()
                solve[name](weight, *args)
                if turn >= 2:                                                      # two warm-up turns
                    times[name].append(time.perf_counter() - start)
        for name, _ in solvers:
            out[name][shape["name"]] = 1000 * statistics.median(times[name])
    return out


def print_table(header: Row, rows: list[Row], markdown: bool) -> None:
    """A Markdown or plain aligned table (eplb_baselines' printer)."""
    baselines_module().print_table(header, rows, markdown)


def main_row(name: str, result: dict[str, Any]) -> Row:
    """One solver's default-shape figures."""
    if not result.get("valid"):
        return [name, "invalid: " + str(result.get("error"))[:70]] + [""] * 6
    return [name, f"{result['balancedness_gpu']:.4f}", f"{result['balancedness_gpu_same_window']:.4f}",
            f"{result['balancedness_expert']:.4f}", f"{result['group_locality']:.3f}",
            f"{result['ms_per_call']:.2f}", f"{result['speedup_vs_reference']:.2f}", f"{result['fitness']:.4f}"]


def diff_line(label: str, ours: list[float], theirs: list[float]) -> str:
    """Mean difference with the spread of per-pair differences."""
    diffs = [a - b for a, b in zip(ours, theirs)]
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return f"{label}: diff {mean:+.4f} (one window pair: no noise estimate)"
    std = statistics.stdev(diffs)
    error = std / math.sqrt(len(diffs))
    within = "yes" if abs(mean) <= 2 * error else "no"
    return (f"{label}: evolved {statistics.fmean(ours):.4f}, reference {statistics.fmean(theirs):.4f}, "
            f"diff {mean:+.4f}; per-pair diff std {std:.4f} over {len(diffs)} pairs, standard error {error:.4f}; "
            f"|diff| <= 2 standard errors: {within}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=200, help="validation evaluation budget")
    parser.add_argument("--generations", type=int, default=6)
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default=None, help="default: runs/bench-evolve-eplb-seed<seed>")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument("--no-run", action="store_true",
                        help="do not search: read the best program from an existing run (test scoring still runs)")
    parser.add_argument("--write-example", action="store_true", help="let evolve write examples/eplb/")
    args = parser.parse_args(argv)

    problem = load_problem(ROOT / "problems" / "eplb")
    run_dir = Path(args.run_dir) if args.run_dir else ROOT / "runs" / f"bench-evolve-eplb-seed{args.seed}"
    options = EvolveOptions(generator="composer", seed=args.seed, generations=args.generations,
                            population=args.population, evaluations=args.evaluations)
    example_solver: Path | None = None
    search_seconds: float | None = None
    if not args.no_run:
        say(f"evolving in {run_dir} (resumes a stored run with the same settings)")
        try:
            result = evolve(problem, options, run_dir, ROOT / "examples" if args.write_example else None,
                            resume=True, progress=progress)
        except ResumeMismatch as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        search_seconds = result.seconds
        if result.example_dir is not None and (result.example_dir / "solver.py").is_file():
            example_solver = result.example_dir / "solver.py"
    elif not (run_dir / "run.db").is_file():
        print(f"error: --no-run but {run_dir / 'run.db'} does not exist", file=sys.stderr)
        return 2

    store = RunStore(run_dir)
    try:
        generations = generation_rows(store)
        best = best_program(store)
        stored = store.evaluations(split="validation")
        spent, sandbox_s = len(stored), sum(e["duration_s"] for e in stored)
        exhausted = store.events(kind="budget_exhausted")
        settings = (store.get_run("options") or {}).get("all", {})
    finally:
        store.close()

    with tempfile.TemporaryDirectory(prefix="beam-bench-") as tmp_name:
        tmp = Path(tmp_name)
        say("choosing the best hand-written composition on validation")
        choice = []
        for index, (name, source) in enumerate(hand_written_candidates()):
            say(f"  validation: {name}")
            path, scored = evaluate_source(problem, source, "validation", tmp, f"hand_{index}")
            choice.append((name, path, scored))
        valid = [c for c in choice if c[2].get("valid")]
        hand = max(valid, key=lambda c: c[2]["fitness"]) if valid else None

        say("test split: reference")
        reference_path = problem.file("reference")
        tested: list[tuple[str, Path, dict[str, Any]]] = [
            ("reference (vectorised DeepSeek-equivalent)", reference_path,
             problem.evaluate(reference_path, split="test"))]
        if hand is not None:
            say(f"test split: {hand[0]}")
            tested.append((f"best hand-written: {hand[0]}", hand[1], problem.evaluate(hand[1], split="test")))
        evolved_name = None
        if best is not None:
            if example_solver is not None:
                evolved_source, origin = example_solver.read_text(encoding="utf-8"), str(example_solver)
            else:
                evolved_source, origin = standalone_source(best.source, run_dir), "standalone form of the best program"
            evolved_name = f"evolved (program {best.program_id})"
            say(f"test split: {evolved_name}")
            path, scored = evaluate_source(problem, evolved_source, "test", tmp, "evolved")
            tested.append((evolved_name, path, scored))

        pairs: dict[str, Any] = {}
        warm: dict[str, dict[str, float]] = {}
        if best is not None and tested[-1][2].get("valid") and tested[0][2].get("valid"):
            say("per-window-pair balance, in process: reference and evolved")
            pairs = {"reference": per_pair(problem, reference_path, "reference"),
                     "evolved": per_pair(problem, tested[-1][1], "evolved")}
            say("warm ms per call, in process, taking turns: every tested solver")
            warm = in_process_ms(problem, [(name, path) for name, path, result in tested if result.get("valid")])

    reference = tested[0][2]
    default = reference.get("default_shape")
    print(f"\nBEAM evolve, EPLB, offline composer: run folder {run_dir}")
    print(f"settings: seed {args.seed}, generations {settings.get('generations')}, population "
          f"{settings.get('population')}, budget {settings.get('evaluations')} evaluations; "
          f"{spent} validation evaluations stored ({sandbox_s:.0f} s of evaluation in all)"
          + ("" if search_seconds is None else f"; evolve() took {search_seconds:.0f} s in this invocation"))
    if exhausted:
        print(f"the evaluation budget ran out in generation {exhausted[-1]['detail'].get('generation')}")

    print("\n1. Best validation fitness per generation (store 'generation' events)")
    print("(population best after selection; 'best evaluated' and 'evaluations' count every program "
          "created up to that generation; evolve emits the best evaluated)")
    print_table(["generation", "best validation fitness", "best program", "best evaluated", "evaluations so far"],
                generations, args.markdown)

    print("\nHand-written candidates on validation (the best goes to the test table)")
    print_table(["composition", "validation fitness", "bal GPU next", "note"],
                [[n, f"{r['fitness']:.4f}", f"{r['balancedness_gpu']:.4f}", ""] if r.get("valid")
                 else [n, "invalid", "", str(r.get("error"))[:90]] for n, _, r in choice], args.markdown)

    print(f"\n2. Test split, scored one after the other in this run; default shape {default}, "
          f"windows {reference.get('windows')}; fitness = mean over {len(reference.get('shapes', {}))} shapes")
    if best is not None:
        print(f"evolved solver: {origin} (program {best.program_id}, the run's highest validation fitness, "
              f"{best.fitness:.4f})")
    else:
        print("evolved solver: the run holds no valid program")
    print_table(["solver", "bal GPU next", "bal GPU same", "bal slot next", "group locality", "ms/call",
                 "speedup", "fitness"], [main_row(n, r) for n, _, r in tested], args.markdown)

    print("\nPer shape (test split)")
    shape_rows = []
    for shape in problem.config["shapes"]:
        for name, _, result in tested:
            figures = result.get("shapes", {}).get(shape["name"])
            if figures is None:
                shape_rows.append([shape["name"], name, "invalid", "", ""])
                continue
            shape_rows.append([shape["name"], name, f"{figures['balancedness_gpu']:.4f}", f"{figures['fitness']:.4f}",
                               f"{figures['ms_per_call']:.2f}"])
    print_table(["shape", "solver", "bal GPU next", "fitness", "ms/call"], shape_rows, args.markdown)

    if warm:
        print("\nms per call: evaluator (sandbox round trip, cold caches: the reference runs between two calls) "
              "and warm in this process (solvers taking turns on the test windows)")
        print_table(["shape", "solver", "evaluator ms/call", "warm in-process ms/call"],
                    [[shape["name"], name, f"{result['shapes'][shape['name']]['ms_per_call']:.2f}",
                      f"{warm[name][shape['name']]:.2f}"]
                     for shape in problem.config["shapes"] for name, _, result in tested if name in warm],
                    args.markdown)

    print("\n3. Verdict: evolved solver vs reference on the test split")
    evolved = tested[-1][2] if evolved_name else None
    if evolved is None or not evolved.get("valid"):
        print("no valid evolved solver to judge" + ("" if evolved is None else f": {evolved.get('error')}"))
        return 1
    print(f"(per-pair differences recomputed in this process from the same test windows; "
          f"noise = spread of the per-window-pair differences)")
    for shape in problem.config["shapes"]:
        name = shape["name"]
        ours, theirs = pairs["evolved"][name], pairs["reference"][name]
        label = f"{name}{' (default)' if name == default else ''}"
        print(diff_line(f"  {label} next-window GPU balance", ours["next"], theirs["next"]))
        print(diff_line(f"  {label} same-window GPU balance", ours["same"], theirs["same"]))
        check = statistics.fmean(ours["next"]) - evolved["shapes"][name]["balancedness_gpu"]
        if abs(check) > 1e-6:
            print(f"    note: in-process next-window mean differs from the evaluator's by {check:+.6f}")
    ms, ref_ms = evolved["ms_per_call"], evolved["reference"]["ms_per_call"]
    print(f"  ms/call ({default}, timed side by side with the reference): evolved {ms:.2f}, reference {ref_ms:.2f}, "
          f"speedup {evolved['speedup_vs_reference']:.2f}x; aim {AIM_MS:g} ms: evolved is {ms - AIM_MS:+.2f} ms "
          f"from it ({'at or under' if ms <= AIM_MS else 'over'})")
    slowest = max(evolved["shapes"].items(), key=lambda item: item[1]["ms_per_call"])
    print(f"  slowest shape for the evolved solver: {slowest[0]} at {slowest[1]['ms_per_call']:.2f} ms/call")
    if warm:
        mine, theirs = warm[evolved_name], warm[tested[0][0]]
        worst = max(mine.values())
        print(f"  warm ms/call in process (solvers taking turns, one torch thread): evolved "
              + ", ".join(f"{mine[s]:.2f}" for s in mine)
              + " vs reference " + ", ".join(f"{theirs[s]:.2f}" for s in theirs)
              + f" ({', '.join(mine)}); aim {AIM_MS:g} ms: slowest shape {worst:.2f} ms "
              f"({'at or under' if worst <= AIM_MS else 'over'})")
    print(f"  fitness: evolved {evolved['fitness']:.4f}, reference {reference['fitness']:.4f}"
          + ("" if len(tested) < 3 else f", best hand-written {tested[1][2].get('fitness') or float('nan'):.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
