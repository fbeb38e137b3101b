"""Online bin-packing baselines beside the published figures: excess % of mean bins over the mean L1 bound.

Rows: the classic HeuBase rules, then the best composition "rule + weight x
shaping term" of HeuBase, chosen on the *train* split (never on the test
sets), then the published numbers. Columns: the test datasets of
problems/binpack/problem.toml (FunSearch's OR3 and Weibull 5k sets, generated
OR1, OR2, OR4, Weibull 10k and 100k).

HeuBase code is trusted, so it runs in-process through the same online loop
the sandboxed evaluator uses (``problems/binpack/online.py``; the tests check
that both give the same bins).

    python benchmarks/binpack_baselines.py [--markdown] [--datasets OR3 "Weibull 5k"]
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.problem import import_by_path, load_problem  # noqa: E402
from heubase.binpack import rules, shaping  # noqa: E402

BINPACK = ROOT / "problems" / "binpack"
instances = import_by_path(BINPACK / "instances.py", "beam_problem_binpack_instances")
online = import_by_path(BINPACK / "online.py", "beam_problem_binpack_online")

RULES = ["first_fit", "best_fit", "worst_fit", "almost_worst_fit", "tight_fit_else_worst"]
TERMS = ["tight_fit_bonus", "waste_penalty", "fill_ratio", "fresh_bin_penalty", "size_class_match",
         "room_for_same", "spare_room"]
WEIGHTS = [0.1, 0.3, 1.0, 3.0]

#: Published excess (%) over the L1 bound. FunSearch and QUBE: FunSearch's Table 1
#: as quoted in issue 8; BEAM: Table III of the BEAM paper, best of 5 runs (MIN).
PUBLISHED = [
    ("first fit (FunSearch, published)", {"OR3": 5.74, "Weibull 5k": 4.23}),
    ("best fit (FunSearch, published)", {"OR3": 5.37, "Weibull 5k": 3.98}),
    ("FunSearch heuristic (published)", {"OR3": 3.11, "Weibull 5k": 0.68}),
    ("QUBE (published)", {"OR3": 1.79, "Weibull 5k": 0.41}),
    ("BEAM, best of 5 (published)", {"Weibull 5k": 2.58, "Weibull 10k": 1.99, "Weibull 100k": 1.82}),
]


def composed(rule: str, term: str | None = None, weight: float = 0.0):
    """``rule + weight * term`` as a priority function."""
    base = getattr(rules, rule)
    if term is None:
        return base
    extra = getattr(shaping, term)
    return lambda item, bins: base(item, bins) + weight * extra(item, bins)


def excess(priority, data) -> float:
    bins = [online.pack(i.items, i.capacity, priority) for i in data.instances]
    return instances.excess_percent(bins, [instances.l1_bound(i.items, i.capacity) for i in data.instances])


def best_composition(train: list) -> tuple[str, object, float]:
    """The composition with the lowest mean excess over the train datasets (rules alone included)."""
    best = None
    options = [(r, None, 0.0) for r in RULES] + list(itertools.product(RULES, TERMS, WEIGHTS))
    for rule, term, weight in options:
        score = float(np.mean([excess(composed(rule, term, weight), d) for d in train]))
        if best is None or score < best[2]:
            best = (rule if term is None else f"{rule} + {weight:g} x {term}", composed(rule, term, weight), score)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--datasets", nargs="*", default=None, help="test datasets to show (default: all)")
    args = parser.parse_args(argv)
    problem = load_problem(BINPACK)
    test = instances.split_datasets(problem, "test")
    if args.datasets:
        unknown = set(args.datasets) - {d.name for d in test}
        if unknown:
            print(f"unknown dataset(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        test = [d for d in test if d.name in args.datasets]
    started = time.perf_counter()
    name, best, train_score = best_composition(instances.split_datasets(problem, "train"))
    print(f"best composition on the train split: {name} (train mean excess {train_score:.2f} %, "
          f"search {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    rows = [(r.replace("_", " "), {d.name: excess(getattr(rules, r), d) for d in test}) for r in RULES]
    rows.append((f"best HeuBase composition: {name}", {d.name: excess(best, d) for d in test}))
    names = [d.name for d in test]
    header = ["solver", *names]
    lines = []
    for label, values in rows + [(label, values) for label, values in PUBLISHED]:
        cells = [f"{values[n]:.2f} %" if n in values else "" for n in names]
        lines.append([label, *cells])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
        for row in [header, *lines]:
            print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
