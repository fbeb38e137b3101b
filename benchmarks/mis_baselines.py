"""MIS baselines beside the published figures: mean set size and gap (%) to KaMIS ReduMIS per dataset.

Rows: min-degree greedy, the RLSA host alone (HeuBase defaults), ARW iterated
local search from the greedy set, and the best hand-written HeuBase
composition, chosen on the *train* split among a few (never on the test
graphs); then the reference (KaMIS ReduMIS, cached in problems/mis/data/) and
the paper's Table V figures. Every method gets each dataset's ``time_limit_s``
(x ``--scale``) and stops at 0.85 of it, as the skeletons do.

HeuBase code is trusted, so it runs in-process; the returned sets are checked
with the evaluator's own :func:`checked_set`.

    python benchmarks/mis_baselines.py [--split test] [--scale 1.0] [--markdown]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.problem import import_by_path, load_problem  # noqa: E402
from heubase.mis import construct, local_search, rlsa  # noqa: E402

MIS = ROOT / "problems" / "mis"
evaluate = import_by_path(MIS / "evaluate.py", "beam_problem_mis_evaluate")
SAFETY = 0.85

#: Table V of the BEAM paper (RB-200-300 at 5 s, RB-800-1200 at 60 s per graph): (mean size, gap %).
PUBLISHED = [
    ("KaMIS ReduMIS, 60 s (paper)", {"RB-200-300": (20.09, 0.00), "RB-800-1200": (43.00, 0.00)}),
    ("RLSA (paper)", {"RB-200-300": (19.92, 0.85), "RB-800-1200": (39.79, 7.47)}),
    ("ARW (paper)", {"RB-200-300": (20.09, 0.00), "RB-800-1200": (42.68, 0.75)}),
    ("BEAM w/ RLSA (paper)", {"RB-200-300": (20.05, 0.19), "RB-800-1200": (41.65, 3.05)}),
    ("BEAM w/ KaHIP & ARW (paper)", {"RB-200-300": (20.09, 0.00), "RB-800-1200": (43.03, -0.06)}),
]

Solver = Callable[[np.ndarray, np.ndarray, float, int], np.ndarray]


def greedy(indptr, indices, budget, seed):
    return construct.greedy_min_degree(indptr, indices, np.random.default_rng(seed))


def rlsa_alone(indptr, indices, budget, seed):
    return rlsa.rlsa(indptr, indices, np.random.default_rng(seed), time.perf_counter() + budget)


def arw(indptr, indices, budget, seed, search=local_search.arw_ils):
    deadline = time.perf_counter() + budget
    rng = np.random.default_rng(seed)
    return search(indptr, indices, construct.greedy_min_degree(indptr, indices, rng), rng, deadline)


def rlsa_then_arw(indptr, indices, budget, seed, share=0.3):
    began = time.perf_counter()
    rng = np.random.default_rng(seed)
    best = rlsa.rlsa(indptr, indices, rng, began + share * budget)
    return local_search.arw_ils(indptr, indices, best, rng, began + budget)


COMPOSITIONS: dict[str, Solver] = {
    "min-degree greedy + ARW ILS": arw,
    "min-degree greedy + ARW ILS, 4 restarts": lambda *a: arw(*a, search=local_search.arw_restarts),
    "RLSA (30 % of the time) + ARW ILS": rlsa_then_arw,
    "RLSA (10 % of the time) + ARW ILS": lambda *a: rlsa_then_arw(*a, share=0.1),
}


def score(solver: Solver, datasets: list, scale: float) -> dict[str, tuple[float, float, float]]:
    """``{dataset: (mean size, gap %, mean seconds)}`` of ``solver`` on ``datasets``."""
    problem = load_problem(MIS)
    reference = evaluate.reference
    out = {}
    for data in datasets:
        sizes, seconds = [], []
        for k, g in enumerate(data.graphs):
            started = time.perf_counter()
            mask = solver(g.indptr, g.indices, SAFETY * scale * data.time_limit_s, k)
            seconds.append(time.perf_counter() - started)
            sizes.append(evaluate.checked_set(np.flatnonzero(mask), g.indptr, g.indices).size)
        spec = evaluate._preset_spec(problem, data)
        refs, _ = reference.reference_sizes(problem, data, reference.time_for(problem, spec))
        out[data.name] = (float(np.mean(sizes)), evaluate.gap_percent(sizes, refs), float(np.mean(seconds)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every time limit (e.g. 0.2 for a quick run)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    problem = load_problem(MIS)
    datasets = evaluate.load_datasets(problem, args.split)
    train = evaluate.load_datasets(problem, "train")
    picks = {name: float(np.mean([v[1] for v in score(s, train, args.scale).values()]))
             for name, s in COMPOSITIONS.items()}
    best_name = min(picks, key=picks.get)
    rows = [("min-degree greedy", score(greedy, datasets, args.scale)),
            ("RLSA host alone (HeuBase defaults)", score(rlsa_alone, datasets, args.scale)),
            ("ARW ILS from min-degree greedy", score(arw, datasets, args.scale)),
            (f"best HeuBase: {best_name}", score(COMPOSITIONS[best_name], datasets, args.scale))]
    refs, solvers = {}, set()
    for data in datasets:
        spec = evaluate._preset_spec(problem, data)
        sizes, used = evaluate.reference.reference_sizes(problem, data, evaluate.reference.time_for(problem, spec))
        refs[data.name] = (float(np.mean(sizes)), 0.0, float("nan"))
        solvers |= used
    rows.append(("reference: " + ", ".join(sorted(solvers)) + " (cached)", refs))
    names = [d.name for d in datasets]
    limits = {d.name: d.time_limit_s * args.scale for d in datasets}
    head = ["method"] + [f"{n} ({limits[n]:g} s): size / gap %" for n in names]
    lines = []
    sep = " | " if args.markdown else "  "
    fmt = lambda cell: f"{cell[0]:.2f} / {cell[1]:.2f}" if cell else ""
    for label, cells in rows + [(label, {k: v for k, v in pub.items()}) for label, pub in PUBLISHED]:
        lines.append([label] + [fmt(cells.get(n)) for n in names])
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
        for line in [head] + lines:
            print(sep.join(str(c).ljust(w) for c, w in zip(line, widths)))
    print(f"\ntrain-split choice of the best composition (mean gap %): "
          + ", ".join(f"{k}: {v:.2f}" for k, v in picks.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
