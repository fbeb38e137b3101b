"""TSP-GLS baselines beside the published figures: mean (and min) gap % to the cached reference tours.

Rows, each with the dataset's time limit per instance (problems/tsp_gls/problem.toml):

* nearest neighbour (one construction, no search);
* 2-opt local search alone: 2-opt descents from nearest-neighbour tours of
  different start cities until the time limit, best kept;
* classic GLS (Voudouris & Tsang: distance guide, utility guide / (1 + penalty))
  in the HeuBase host (30 perturbation moves, at most 1200 rounds);
* the best HeuBase composition: the HeuBase edge guide with the lowest mean gap
  on the *train* split (never chosen on the test sets), in the same host;
* the published numbers (BEAM paper, Table III: MIN over 5 runs, 1200 GLS rounds).

HeuBase code is trusted, so it runs in-process; the tours are checked and
measured with the evaluator's own functions.

    python benchmarks/tsp_gls_baselines.py [--markdown] [--split test] [--datasets TSP-100]
    python benchmarks/tsp_gls_baselines.py --rounds [--split validation]   # GLS rounds done per time limit
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.problem import import_by_path, load_problem  # noqa: E402
from heubase.tsp_gls import guides  # noqa: E402
from heubase.tsp_gls.construct import nearest_neighbour_tour  # noqa: E402
from heubase.tsp_gls.gls import guided_local_search  # noqa: E402
from heubase.tsp_gls.local_search import two_opt  # noqa: E402
from heubase.tsp_gls.tours import neighbour_lists, tour_length  # noqa: E402

TSP_GLS = ROOT / "problems" / "tsp_gls"
instances = import_by_path(TSP_GLS / "instances.py", "beam_problem_tsp_gls_instances")
evaluate = import_by_path(TSP_GLS / "evaluate.py", "beam_problem_tsp_gls_evaluate")

GUIDES = ["distance_guide", "power_guide", "nearest_excess_guide", "rank_guide", "centred_guide"]

#: BEAM paper, Table III (MIN / AVG gap % over 5 runs; TSP-100 and TSP-500, 1200 GLS rounds).
PUBLISHED = [
    ("ReEvo (published, min / avg)", {"TSP-100": "0.01 / 0.03", "TSP-500": "1.00 / 1.07"}),
    ("EoH (published, min / avg)", {"TSP-100": "0.0084 / 0.01", "TSP-500": "0.85 / 0.96"}),
    ("MCTS-AHD (published, min / avg)", {"TSP-100": "0.02 / 0.04", "TSP-500": "0.99 / 1.12"}),
    ("BEAM (published, min / avg)", {"TSP-100": "0.0026 / 0.0068", "TSP-500": "0.88 / 0.95"}),
]


def nearest_neighbour(distance: np.ndarray, time_limit_s: float) -> np.ndarray:
    return nearest_neighbour_tour(distance, 0)


def two_opt_restarts(distance: np.ndarray, time_limit_s: float) -> np.ndarray:
    """2-opt descents from nearest-neighbour tours of successive start cities until the time limit."""
    deadline = time.perf_counter() + 0.95 * time_limit_s
    near = neighbour_lists(distance, 10)
    best, best_len = None, float("inf")
    for start in range(len(distance)):
        tour = two_opt(distance, nearest_neighbour_tour(distance, start), near, deadline)
        length = tour_length(distance, tour)
        if length < best_len:
            best, best_len = tour, length
        if time.perf_counter() > deadline:
            break
    return best


def gls_with(guide_name: str):
    def solve(distance: np.ndarray, time_limit_s: float) -> np.ndarray:
        return guided_local_search(distance, getattr(guides, guide_name)(distance), time_limit_s, 0)
    solve.__name__ = guide_name
    return solve


def gaps(solver, data) -> list[float]:
    """Gap % of ``solver`` on every instance of ``data`` (tours checked like the evaluator does)."""
    out = []
    for inst in data.instances:
        tour = evaluate.checked_tour(solver(inst.distance, data.time_limit_s), inst.cities)
        out.append(evaluate.gap_percent(evaluate.tour_length(inst.distance, tour), inst.reference))
    return out


def best_guide_on_train(problem) -> tuple[str, float]:
    """The HeuBase guide of lowest mean gap on the train split (classic utility, same host)."""
    train = instances.split_datasets(problem, "train")
    scores = {}
    for name in GUIDES:
        scores[name] = float(np.mean([np.mean(gaps(gls_with(name), d)) for d in train]))
        print(f"  train: {name}: mean gap {scores[name]:.4f} %", file=sys.stderr, flush=True)
    best = min(scores, key=scores.get)
    return best, scores[best]


def count_rounds(problem, split: str) -> None:
    """Print how many GLS rounds classic GLS completes on the first instance of each dataset at its time limit."""
    from heubase.tsp_gls import gls

    calls = [0]
    descent = gls.local_search

    def counted(*args, **kwargs):
        calls[0] += 1
        return descent(*args, **kwargs)

    gls.local_search = counted
    try:
        for d in instances.split_datasets(problem, split):
            calls[0] = 0
            gls.guided_local_search(d.instances[0].distance, d.instances[0].distance, d.time_limit_s, 0)
            print(f"{d.name}: {calls[0] - 1} GLS rounds in {d.time_limit_s:g} s ({d.instances[0].cities} cities)")
    finally:
        gls.local_search = descent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--datasets", nargs="*", help="dataset names of the split (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--rounds", action="store_true", help="only count classic GLS rounds per time limit")
    args = parser.parse_args(argv)
    problem = load_problem(TSP_GLS)
    if args.rounds:
        count_rounds(problem, args.split)
        return 0
    data = [d for d in instances.split_datasets(problem, args.split) if not args.datasets or d.name in args.datasets]
    best, train_gap = best_guide_on_train(problem)
    rows = [("nearest neighbour", nearest_neighbour), ("2-opt local search alone (restarts)", two_opt_restarts),
            ("classic GLS (distance guide)", gls_with("distance_guide")),
            (f"best HeuBase guide on train: {best} (train gap {train_gap:.3f} %)", gls_with(best))]
    table = []
    for label, solver in rows:
        cells = {}
        for d in data:
            g = gaps(solver, d)
            cells[d.name] = f"{np.mean(g):.4f} ({np.min(g):.4f})"
        table.append((label, cells))
        print(f"  {label}: {cells}", file=sys.stderr, flush=True)
    table += PUBLISHED
    names = [d.name for d in data]
    header = ["method"] + [f"{d.name} ({len(d.instances)} x {d.time_limit_s:g} s)" for d in data]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for label, cells in table:
            print("| " + " | ".join([label] + [cells.get(n, "") for n in names]) + " |")
    else:
        print("gap % to the cached reference: mean (min) over instances; published rows: min / avg over 5 runs")
        for label, cells in table:
            print(f"{label:62s} " + "  ".join(f"{cells.get(n, ''):>20s}" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
