"""Command line: ``beam evolve | eval | report | promote | heubase``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from beam.generators.base import GenerationError
from beam.problem import ProblemError, load_problem
from beam.store import StoreError


def _format_float(value: object, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_report_table(result: dict, report: dict) -> None:
    """Metrics of one evaluation per group as the problem's ``[report]`` lists them (rich table)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fitness {result['fitness']:.4f} (mean over {report['groups']})")
    for column in [report["groups"].rstrip("s"), "fitness", *report["metrics"]]:
        table.add_column(column.replace("_", " "), justify="right")
    for name, group in result.get(report["groups"], {}).items():
        table.add_row(name, *(_format_float(group.get(c, "")) for c in ["fitness", *report["metrics"]]))
        ref = group.get("reference") or {}
        if ref:
            table.add_row("  reference", "", *(_format_float(ref.get(c, "")) for c in report["metrics"]), style="dim")
    Console().print(table)


def print_eval_table(result: dict, report: dict | None = None) -> None:
    """Human-readable metrics of one evaluation (rich table); ``report`` is the problem's ``[report]``."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not result["valid"]:
        console.print(f"[bold red]invalid[/]: {result['error']}")
        return
    if report is not None:
        print_report_table(result, report)
        return
    table = Table(title=f"fitness {result['fitness']:.4f} (mean over shapes; windows {result['windows']}; "
                        f"device {result.get('device', 'cpu')})")
    columns = ["shape", "fitness", "balancedness_gpu", "balancedness_expert", "balancedness_gpu_same_window",
               "group_locality", "ms_per_call", "speedup_vs_reference"]
    for column in columns:
        table.add_column(column.replace("balancedness", "bal").replace("_", " "), justify="right")
    for name, shape in result["shapes"].items():
        table.add_row(name, *(_format_float(shape[c], 2 if c in ("ms_per_call", "speedup_vs_reference") else 4)
                              for c in columns[1:]))
        ref = shape["reference"]
        table.add_row(f"  reference", "", *(_format_float(ref[c], 2 if c == "ms_per_call" else 4)
                                           for c in columns[2:-1]), "1.00", style="dim")
    console.print(table)


def cmd_eval(args: argparse.Namespace) -> int:
    problem = load_problem(args.problem)
    solver = Path(args.solver)
    if not solver.is_file():
        raise ProblemError(f"{solver}: no such solver file")
    options = {"device": args.device} if args.device else {}
    result = problem.evaluate(solver, split=args.split, workload_file=args.workloads, **options)
    if args.json:
        print(json.dumps(result, indent=None if args.compact else 2))
    else:
        print_eval_table(result, problem.report())
    return 0 if result["valid"] else 1


def _progress_printer():
    """A rich live status line for ``beam evolve`` (phase, generation, best fitness, evaluations/min)."""
    from rich.console import Console

    console = Console(stderr=True)
    state: dict = {"best": None}

    def show(info: dict) -> None:
        if info.get("best_fitness") is not None:
            state["best"] = info["best_fitness"]
        best = "—" if state["best"] is None else f"{state['best']:.4f}"
        extra = ""
        if "evaluated" in info:
            extra = f" · educated {info.get('educated', 0)} (evals {info['evaluated']}, fixes {info['fixes']})"
        if "evaluations" in info:
            extra += f" · {info['evaluations']} evaluations ({info['rate']:.1f}/min)"
        if info.get("tokens"):
            extra += f" · {info['tokens']} tokens"
        console.print(f"[bold]gen {info.get('generation', 0)}[/] {info['phase']:<18} best {best}{extra}")

    return show, state


def cmd_evolve(args: argparse.Namespace) -> int:
    from beam.evolve import EvolveOptions, evolve

    problem = load_problem(args.problem)
    budget = problem.section("budget")
    options = EvolveOptions(
        generator=args.generator, seed=args.seed,
        generations=args.generations if args.generations is not None else int(budget.get("generations", 3)),
        population=args.population if args.population is not None else int(budget.get("population", 4)),
        evaluations=args.evaluations if args.evaluations is not None else int(budget.get("evaluations", 60)),
        workers=args.workers, mode=args.mode, calibrate=not args.no_calibrate, memory=not args.no_memory,
        model=args.model, base_url=args.base_url, token_budget=args.token_budget,
        llm={"api_key": args.api_key} if args.api_key else {},
        executor=args.executor, ray_address=args.ray_address, sandbox=args.sandbox,
        selection=args.selection, islands=args.islands, reset_interval=args.reset_interval, qube_k=args.qube_k,
        qube_temperature=args.qube_temperature)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"{problem.name}-seed{args.seed}"
    show, _ = _progress_printer()
    result = evolve(problem, options, run_dir, None if args.no_example else Path(args.examples_dir),
                    resume=args.resume, progress=show)
    print(f"run folder: {result.run_dir}  ({result.evaluations} evaluations, {result.sandbox_runs} sandbox runs, "
          f"{result.seconds:.0f} s; executor {result.executor})")
    if result.best is None:
        print("no valid program was found")
        return 1
    print(f"best validation fitness: {result.best.fitness:.4f} (program {result.best.program_id})")
    if result.test_result is not None:
        test = result.test_result
        report = problem.report()
        if test.get("valid") and report is not None:
            shown = ", ".join(f"{m} {_format_float(test[m])}" for m in report["metrics"] if m in test)
            print(f"test split: fitness {test['fitness']:.4f}" + (f", {shown}" if shown else ""))
        elif test.get("valid"):
            print(f"test split: fitness {test['fitness']:.4f}, balancedness_gpu {test.get('balancedness_gpu', 0):.4f} "
                  f"(reference {test.get('reference', {}).get('balancedness_gpu', 0):.4f}), "
                  f"{test.get('ms_per_call', 0):.2f} ms/call, speedup {test.get('speedup_vs_reference', 0):.2f}x")
        else:
            print(f"test split: invalid ({test.get('error')})")
    if result.example_dir is not None:
        print(f"solver written to: {result.example_dir / 'solver.py'}")
    return 0


def cmd_heubase_list(args: argparse.Namespace) -> int:
    from beam.evolve import heubase_components

    problem = load_problem(Path("problems") / args.problem if not Path(args.problem).exists() else args.problem)
    for component in heubase_components(problem):
        print(f"{component.role:<15} {component.module}.{component.signature}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from beam.promote import promote

    for path in promote(Path(args.run), Path(args.dest) if args.dest else None, top=args.top):
        print(f"promoted: {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from beam.report import REPORT_NAME, write_report

    run_dir = Path(args.run)
    out = Path(args.out) if args.out else run_dir / REPORT_NAME
    if not args.serve:
        print(f"report written to: {write_report(run_dir, out)}")
        return 0
    from beam.report.serve import LiveReport, make_server

    live = LiveReport(run_dir, out)
    live.page()  # a missing or broken run fails here, before the server starts
    server = make_server(live, args.port)
    print(f"serving the report of {run_dir} on http://127.0.0.1:{server.server_address[1]}/ "
          f"(also written to {out}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beam", description="BEAM: evolve complete solvers.")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="score a solver file on a problem")
    ev.add_argument("problem", help="problem folder, e.g. problems/eplb")
    ev.add_argument("solver", help="Python file defining the problem's entry function")
    ev.add_argument("--workloads", type=Path, default=None, help="workload file (.npz, SGLang .pt, .json)")
    ev.add_argument("--split", default="validation", choices=["train", "validation", "test"],
                    help="synthetic split when no --workloads is given (default: validation)")
    ev.add_argument("--device", default=None,
                    help="where solvers get their inputs: cpu, cuda[:N] or auto (default: problem.toml [limits])")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--compact", action="store_true", help="with --json: on one line")
    ev.set_defaults(func=cmd_eval)

    evo = sub.add_parser("evolve", help="evolve a solver for a problem (offline composer by default)")
    evo.add_argument("problem", help="problem folder, e.g. problems/eplb")
    evo.add_argument("--generator", choices=["composer", "llm"], default="composer")
    evo.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (or BEAM_BASE_URL)")
    evo.add_argument("--model", default=None, help="model name (or BEAM_MODEL)")
    evo.add_argument("--api-key", default=None, help="API key (or BEAM_API_KEY / OPENAI_API_KEY)")
    evo.add_argument("--token-budget", type=int, default=None, help="hard limit on model tokens")
    evo.add_argument("--generations", type=int, default=None, help="GA generations (default: problem.toml)")
    evo.add_argument("--population", type=int, default=None, help="population size (default: problem.toml)")
    evo.add_argument("--evaluations", type=int, default=None, help="evaluation budget (default: problem.toml)")
    evo.add_argument("--seed", type=int, default=0)
    evo.add_argument("--workers", type=int, default=1, help="concurrent evaluations")
    evo.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="where evaluations run: this machine, or Ray tasks (default: local)")
    evo.add_argument("--ray-address", default=None,
                     help="with --executor ray: an existing cluster (auto, HOST:6379, ray://HOST:10001); "
                          "default: start a local Ray instance")
    evo.add_argument("--sandbox", choices=["warm", "fresh"], default=None,
                     help="sandbox workers forked from a warm parent, or fresh interpreters (default: warm)")
    evo.add_argument("--mode", choices=["mcts", "one-shot"], default="mcts", help="education method")
    evo.add_argument("--no-calibrate", action="store_true", help="skip CMA-ES calibration")
    evo.add_argument("--no-memory", action="store_true", help="disable the adaptive memory")
    evo.add_argument("--selection", choices=["ranked", "qube"], default="ranked",
                     help="parent selection: the paper's ranked pairs, or QUBE quality-uncertainty (default: ranked)")
    evo.add_argument("--islands", type=int, default=1, help="islands the population is split into (default: 1)")
    evo.add_argument("--reset-interval", type=int, default=2,
                     help="reset the islands below the median every G generations (0: never; default: 2)")
    evo.add_argument("--qube-k", type=float, default=0.001, help="QUBE uncertainty weight k (default: 0.001)")
    evo.add_argument("--qube-temperature", type=float, default=1.0,
                     help="QUBE program temperature T_prog (length bias within a cluster; default: 1.0)")
    evo.add_argument("--run-dir", default=None, help="run folder (default: runs/<problem>-seed<seed>)")
    evo.add_argument("--resume", action="store_true", help="continue the run stored in --run-dir")
    evo.add_argument("--examples-dir", default="examples", help="where the evolved solver goes")
    evo.add_argument("--no-example", action="store_true", help="do not write examples/<problem>/")
    evo.set_defaults(func=cmd_evolve)

    pr = sub.add_parser("promote", help="copy a run's best memory functions into heubase/<problem>/evolved/")
    pr.add_argument("run", help="run folder (holding run.db)")
    pr.add_argument("--top", type=int, default=3, help="how many memory functions (best first)")
    pr.add_argument("--dest", default=None, help="destination folder (default: heubase/<problem>/evolved)")
    pr.set_defaults(func=cmd_promote)

    rp = sub.add_parser("report", help="write a run's self-contained HTML report (or serve it live)")
    rp.add_argument("run", help="run folder (holding run.db)")
    rp.add_argument("--out", default=None, help="HTML file to write (default: RUN/report.html)")
    rp.add_argument("--serve", action="store_true", help="serve it on 127.0.0.1, rebuilt while the run writes")
    rp.add_argument("--port", type=int, default=8000, help="with --serve: port (0: any free port; default 8000)")
    rp.set_defaults(func=cmd_report)

    hb = sub.add_parser("heubase", help="HeuBase components")
    hb_sub = hb.add_subparsers(dest="heubase_command", required=True)
    hb_list = hb_sub.add_parser("list", help="list a problem's components with their roles and signatures")
    hb_list.add_argument("problem", help="problem name or folder")
    hb_list.set_defaults(func=cmd_heubase_list)

    from beam.eplb_tools import add_parser as add_eplb_parser

    add_eplb_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ProblemError, ValueError, OSError, GenerationError, StoreError) as exc:
        print(f"beam: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
