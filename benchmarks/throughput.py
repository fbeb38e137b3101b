"""Evaluation throughput: workers forked from the warm parent vs a fresh interpreter per candidate.

Two tables, both modes measured side by side in one run (rounds alternate the
order, so drifting machine load hits both alike):

1. sandbox overhead per candidate: start the sandbox, make one call of a solver
   that does nothing, close it; the overhead is that total minus the call;
2. EPLB evaluations per minute with the default workloads (all shapes, timed
   against the reference): distinct HeuBase compositions scored by the real
   evaluator through the engine's evaluation service, ``--workers`` at once.

    python benchmarks/throughput.py [--rounds 20] [--candidates 8] [--workers 1 2]
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.evaluate import Sandbox, SandboxLimits  # noqa: E402
from beam.evaluate.service import EvaluationService  # noqa: E402
from beam.problem import load_problem  # noqa: E402
from beam.store import RunStore  # noqa: E402
from eplb_baselines import composition_source  # noqa: E402

MODES = {"warm parent (fork)": False, "fresh interpreter": True}
NOOP = "def solve(w):\n    return w\n"
HYPERPARAMETERS = "#Hyperparameter#\nMAX_TIME = 1.0\n#Hyperparameter#\n"  # the engine's skeleton contract


def overhead_ms(path: Path, fresh: bool) -> float:
    """Milliseconds of one sandbox's start + close beyond its single call."""
    window = np.zeros((4, 8), dtype=np.int64)
    start = time.perf_counter()
    with Sandbox(path, "solve", SandboxLimits(fresh_process=fresh)) as box:
        call = box.call(window).seconds
    return 1000 * (time.perf_counter() - start - call)


def candidates(count: int) -> list[str]:
    """``count`` distinct solver sources: HeuBase compositions (replicate × pack × refine)."""
    combos = itertools.product(("replicate_greedy", "replicate_topk"), ("pack_lpt", "pack_snake"),
                               (None, "swap_max_min", "swap_pairs"))
    return [HYPERPARAMETERS + composition_source(*combo) for combo in itertools.islice(combos, count)]


async def _evaluate_all(service: EvaluationService, sources: list[str]) -> list[dict]:
    return [s.result for s in await asyncio.gather(*(service.evaluate(src) for src in sources))]


def evaluations_per_minute(problem, sources: list[str], workers: int, fresh: bool) -> tuple[float, int]:
    """Rate of real EPLB evaluations through the evaluation service, and how many were valid."""
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "run.db")
        service = EvaluationService(problem, store, split="validation", workers=workers,
                                    evaluate_options={"fresh_process": fresh})
        start = time.perf_counter()
        results = asyncio.run(_evaluate_all(service, sources))
        minutes = (time.perf_counter() - start) / 60
        store.close()
    return len(sources) / minutes, sum(bool(r.get("valid")) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="sandboxes per mode for the overhead table")
    parser.add_argument("--candidates", type=int, default=8, help="distinct EPLB candidates per mode and worker count")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    problem = load_problem(ROOT / "problems" / "eplb")
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        noop = Path(tmp) / "noop.py"
        noop.write_text(NOOP)
        for fresh in MODES.values():
            overhead_ms(noop, fresh)  # starts the warm parent once, outside the measurement
        samples: dict[str, list[float]] = {name: [] for name in MODES}
        for k in range(args.rounds):
            order = list(MODES.items()) if k % 2 == 0 else list(MODES.items())[::-1]
            for name, fresh in order:
                samples[name].append(overhead_ms(noop, fresh))
    print("\n| sandbox start | overhead per candidate, median (ms) | p90 (ms) |")
    print("|---|---:|---:|")
    for name, values in samples.items():
        print(f"| {name} | {statistics.median(values):.1f} | {np.percentile(values, 90):.1f} |")
    sources = candidates(args.candidates)
    print(f"\n| sandbox start | workers | EPLB evaluations / min | valid | (candidates: {len(sources)}) |")
    print("|---|---:|---:|---:|---|")
    for workers in args.workers:
        for name, fresh in MODES.items():
            rate, valid = evaluations_per_minute(problem, sources, workers, fresh)
            print(f"| {name} | {workers} | {rate:.1f} | {valid}/{len(sources)} | |")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
