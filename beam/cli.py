"""Command line: ``beam eval`` (more subcommands arrive with the engine)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from beam.problem import ProblemError, load_problem


def _format_float(value: object, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_eval_table(result: dict) -> None:
    """Human-readable metrics of one evaluation (rich table)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not result["valid"]:
        console.print(f"[bold red]invalid[/]: {result['error']}")
        return
    table = Table(title=f"fitness {result['fitness']:.4f} (mean over shapes; windows {result['windows']})")
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
    result = problem.evaluate(solver, split=args.split, workload_file=args.workloads)
    if args.json:
        print(json.dumps(result, indent=None if args.compact else 2))
    else:
        print_eval_table(result)
    return 0 if result["valid"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beam", description="BEAM: evolve complete solvers.")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="score a solver file on a problem")
    ev.add_argument("problem", help="problem folder, e.g. problems/eplb")
    ev.add_argument("solver", help="Python file defining the problem's entry function")
    ev.add_argument("--workloads", type=Path, default=None, help="workload file (.npz, SGLang .pt, .json)")
    ev.add_argument("--split", default="validation", choices=["train", "validation", "test"],
                    help="synthetic split when no --workloads is given (default: validation)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--compact", action="store_true", help="with --json: on one line")
    ev.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ProblemError, ValueError, OSError) as exc:
        print(f"beam: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
