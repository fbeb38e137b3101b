"""The compiled EPLB kernels against the numpy code they replace, side by side in one process.

One solver file (default: the shipped ``examples/eplb/solver.py``, which
carries the kernels inlined) is timed on the test windows with its kernels
on and switched off (its module-level ``DEAL_ROWS``, ``SWAP_ROWS``,
``FINISH_ROWS``, ``REPACK_MOVES`` set to None), the two taking turns call for
call. "warm": the solver alone in a loop; "cold": the reference solver runs
before every timed call, as in the evaluator, so caches are cold. The plans
of both modes are compared on every window (they must be identical).

    python benchmarks/eplb_kernels.py [--solver FILE] [--repeats 3] [--markdown]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.problem import import_by_path, load_problem  # noqa: E402

KERNELS = ("DEAL_ROWS", "SWAP_ROWS", "FINISH_ROWS", "REPACK_MOVES", "LAYOUT_ROWS", "PACK_ROWS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", default=str(ROOT / "examples" / "eplb" / "solver.py"))
    parser.add_argument("--repeats", type=int, default=3, help="passes over the test windows per mode")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from heubase.eplb.reference import rebalance_experts as reference

    torch.set_num_threads(1)
    problem = load_problem(ROOT / "problems" / "eplb")
    windows = problem.evaluator().load_windows(problem, "test")
    module = import_by_path(Path(args.solver), "beam_bench_kernels_solver")
    compiled = {name: getattr(module, name, None) for name in KERNELS}
    if not any(compiled.values()):
        print(f"{args.solver} has no compiled kernels (numba missing, or a solver without them)")
        return 2

    def switch(on: bool) -> None:
        for name, kernel in compiled.items():
            if hasattr(module, name):
                setattr(module, name, kernel if on else None)

    solve = getattr(module, problem.entry)
    header = ["shape", "mode", "numpy ms/call", "kernels ms/call", "kernels / numpy", "plans identical"]
    rows = []
    for shape in problem.config["shapes"]:
        shape_args = (shape["num_replicas"], shape["num_groups"], shape["num_nodes"], shape["num_gpus"])
        identical = True
        for mode in ("warm", "cold"):
            times: dict[bool, list[float]] = {True: [], False: []}
            for turn in range(args.repeats * len(windows) + 2):
                weight = torch.from_numpy(windows[turn % len(windows)].copy())
                plans = {}
                for on in ((True, False) if turn % 2 == 0 else (False, True)):
                    switch(on)
                    if mode == "cold":
                        reference(weight, *shape_args)
                    start = time.perf_counter()
                    plans[on] = solve(weight, *shape_args)
                    if turn >= 2:                                             # two warm-up turns
                        times[on].append(time.perf_counter() - start)
                identical &= all(torch.equal(a, b) for a, b in zip(plans[True], plans[False]))
            numpy_ms, kernel_ms = (1000 * statistics.median(times[on]) for on in (False, True))
            rows.append([shape["name"], mode, f"{numpy_ms:.2f}", f"{kernel_ms:.2f}", f"{kernel_ms / numpy_ms:.2f}",
                         "yes" if identical else "NO"])
    switch(True)
    baselines = import_by_path(ROOT / "benchmarks" / "eplb_baselines.py", "beam_bench_baselines")
    baselines.print_table(header, rows, args.markdown)
    return 0 if all(row[-1] == "yes" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
