"""Where the evaluator's ms per call goes: the solver's own time in the sandbox, the round trip, and a floor.

Each solver file runs in the real sandbox (the problem's limits, warm
workers) behind a thin wrapper that also returns its own ``perf_counter``
time of the call; the reference runs in its own sandbox before every timed
call, as in the evaluator. Printed per shape: the host-measured time (what the
evaluator reports), the solver's time inside its worker, the difference
(protocol, copies, wake-ups), and the time of the same call made again at
once inside the worker (caches warm: what a loop in one process measures;
the gap to the first is what a call pays for starting cold). A last row is a solver that returns a plan it
made once (no work per call): the round trip of an EPLB-sized reply alone.

    python benchmarks/eplb_call_overhead.py [SOLVER.py ...] [--repeats 3] [--markdown]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.evaluate import Sandbox  # noqa: E402
from beam.problem import import_by_path, load_problem  # noqa: E402

WRAPPER = '''
import importlib.util, sys, time
import torch
spec = importlib.util.spec_from_file_location("timed_inner", {path!r})
inner = importlib.util.module_from_spec(spec)
sys.modules["timed_inner"] = inner
spec.loader.exec_module(inner)


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    again = weight.clone()
    start = time.perf_counter()
    plan = inner.rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus)
    first_done = time.perf_counter()
    inner.rebalance_experts(again, num_replicas, num_groups, num_nodes, num_gpus)   # once more, at once: warm
    second_done = time.perf_counter()
    # the first call's time, the second's, and everything after the first (the host subtracts it)
    return (*plan, torch.tensor([first_done - start, second_done - first_done, time.perf_counter() - first_done]))
'''

CACHED = '''
from heubase.eplb.lean import rebalance_lean

_PLANS = {}


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    key = (num_replicas, num_groups, num_nodes, num_gpus)
    if key not in _PLANS:
        _PLANS[key] = rebalance_lean(weight, num_replicas, num_groups, num_nodes, num_gpus)
    return _PLANS[key]
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solvers", nargs="*", default=[str(ROOT / "examples" / "eplb" / "solver.py")])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the test windows")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    problem = load_problem(ROOT / "problems" / "eplb")
    evaluator = problem.evaluator()
    limits = evaluator.sandbox_limits(problem)
    windows = evaluator.load_windows(problem, "test")
    with tempfile.TemporaryDirectory(prefix="beam-overhead-") as tmp:
        Path(tmp).chmod(0o755)                          # the sandbox's user must read the inner solvers
        cached = Path(tmp) / "cached_plan.py"
        cached.write_text(CACHED)
        names = [Path(p).name for p in args.solvers] + ["a plan made once (round trip only)"]
        wrappers = []
        for index, path in enumerate([*args.solvers, str(cached)]):
            wrapper = Path(tmp) / f"wrapped_{index}.py"
            wrapper.write_text(textwrap.dedent(WRAPPER.format(path=str(Path(path).resolve()))))
            wrappers.append(wrapper)
        boxes = [Sandbox(w, problem.entry, limits) for w in wrappers]
        reference = evaluator.reference_sandbox(problem, limits)
        rows = []
        try:
            for box in [*boxes, reference]:
                box.__enter__()
            for shape in problem.config["shapes"]:
                shape_args = (shape["num_replicas"], shape["num_groups"], shape["num_nodes"], shape["num_gpus"])
                host = [[] for _ in boxes]
                own = [[] for _ in boxes]
                again = [[] for _ in boxes]
                for turn in range(args.repeats * len(windows) + 2):
                    window = np.ascontiguousarray(windows[turn % len(windows)])
                    for k, box in enumerate(boxes):
                        reference.resume()
                        reference.call(window, *shape_args)
                        reference.pause()
                        box.resume()
                        result = box.call(window, *shape_args)
                        box.pause()
                        if turn >= 2:                                          # two warm-up turns
                            host[k].append(result.seconds - float(result.outputs[3][2]))   # first call alone
                            own[k].append(float(result.outputs[3][0]))
                            again[k].append(float(result.outputs[3][1]))
                for name, h, o, a in zip(names, host, own, again):
                    h_ms, o_ms, a_ms = (1000 * statistics.median(t) for t in (h, o, a))
                    rows.append([shape["name"], name, f"{h_ms:.2f}", f"{o_ms:.2f}", f"{h_ms - o_ms:.2f}",
                                 f"{a_ms:.2f}"])
        finally:
            for box in [*boxes, reference]:
                box.close()
    header = ["shape", "solver", "host-measured ms/call", "inside the worker", "difference",
              "again at once, inside the worker"]
    import_by_path(ROOT / "benchmarks" / "eplb_baselines.py", "beam_bench_baselines").print_table(header, rows,
                                                                                                args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
