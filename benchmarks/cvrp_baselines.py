"""CVRP baselines beside the BEAM paper's Table V: mean gap (%) to HGS and mean cost per dataset.

Rows (HeuBase hosts, trusted, run in-process with each dataset's time limit):

* Clarke-Wright savings (no time used);
* nearest-neighbour giant tour + split + full local search (one pass);
* Split & LS as the paper's baseline: random giant tours, split, local search,
  best kept, until the time limit (``multistart_split_ls``);
* the best hand-written HeuBase composition: iterated split + local search with
  string ruin & recreate and record-to-record acceptance (``iterated_split_ls``);

then the paper's figures. The reference is HGS (PyVRP) at the same time limit,
cached in problems/cvrp/data/references.json (``python problems/cvrp/reference.py``).

    python benchmarks/cvrp_baselines.py [--split test] [--time-scale 1.0] [--solvers NAME ...] [--markdown]

The test split uses the paper's limits (20 / 60 / 300 s per instance): with
every row that is ~17 minutes of CPU; ``--time-scale 0.1`` gives a quick look.
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
from heubase.cvrp import host  # noqa: E402

CVRP = ROOT / "problems" / "cvrp"
instances = import_by_path(CVRP / "instances.py", "beam_problem_cvrp_instances")
validate = import_by_path(CVRP / "validate.py", "beam_problem_cvrp_validate")
reference = import_by_path(CVRP / "reference.py", "beam_problem_cvrp_reference")

SOLVERS = {
    "clarke_wright": "Clarke-Wright savings",
    "nn_split_ls": "NN tour + split + LS (one pass)",
    "multistart_split_ls": "Split & LS (random tours, multi-start)",
    "iterated_split_ls": "best HeuBase composition (iterated split + LS)",
}

#: Table V of the BEAM paper (CVRP-100 / 200 / 500 at 20 / 60 / 300 s): (objective, gap %).
PUBLISHED = [
    ("HGS (paper)", {"CVRP-100": (15.56, 0.0), "CVRP-200": (19.63, 0.0), "CVRP-500": (37.15, 0.0)}),
    ("Split & LS (paper)", {"CVRP-100": (15.65, 0.56), "CVRP-200": (20.00, 1.89), "CVRP-500": (38.56, 3.80)}),
    ("EoH w/ Split & LS (paper)", {"CVRP-100": (15.59, 0.22), "CVRP-200": (19.74, 0.57), "CVRP-500": (37.55, 1.09)}),
    ("BEAM w/ Split & LS (paper)", {"CVRP-100": (15.57, 0.09), "CVRP-200": (19.70, 0.38),
                                    "CVRP-500": (37.47, 0.86)}),
]


def run_solver(name: str, data, refs: list, scale: float) -> tuple[float, float]:
    """Mean cost and mean gap (%) of one host on a dataset."""
    solve = getattr(host, name)
    costs, gaps = [], []
    for k, inst in enumerate(data.instances):
        routes = solve(inst.coords, inst.demands, inst.capacity, data.time_limit_s * scale, k + 1)
        cost = validate.checked_cost(routes, inst)
        costs.append(cost)
        gaps.append(validate.gap_percent(cost, refs[k]))
    return float(np.mean(costs)), float(np.mean(gaps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiply every time limit (default 1)")
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    problem = load_problem(CVRP)
    cache = reference.load_cache(CVRP / "data" / "references.json")["instances"]
    datasets = instances.split_datasets(problem, args.split)
    refs = {}
    for data in datasets:
        missing = [i.name for i in data.instances if i.fingerprint() not in cache]
        if missing:
            print(f"{CVRP / 'data' / 'references.json'}: no reference for {missing[0]}; run "
                  f"python problems/cvrp/reference.py", file=sys.stderr)
            return 2
        refs[data.name] = [cache[i.fingerprint()]["cost"] for i in data.instances]
    rows = [("HGS (PyVRP, cached reference)",
             {d.name: (float(np.mean(refs[d.name])), 0.0) for d in datasets})]
    for name in args.solvers:
        start = time.perf_counter()
        rows.append((SOLVERS[name], {d.name: run_solver(name, d, refs[d.name], args.time_scale) for d in datasets}))
        print(f"[{name}: {time.perf_counter() - start:.0f} s]", file=sys.stderr, flush=True)
    names = [d.name for d in datasets]
    if args.split == "test":
        rows += PUBLISHED
    limits = ", ".join(f"{d.name} {len(d.instances)} x {d.time_limit_s * args.time_scale:g} s" for d in datasets)
    print(f"split {args.split}: {limits}; cells: mean cost / mean gap % to HGS")
    if args.markdown:
        print("| method | " + " | ".join(names) + " |")
        print("| --- |" + " --- |" * len(names))
    for label, cells in rows:
        text = [f"{cells[n][0]:.2f} / {cells[n][1]:.2f} %" if n in cells else "" for n in names]
        print(f"| {label} | " + " | ".join(text) + " |" if args.markdown
              else f"{label:<50}" + "".join(f"{t:>20}" for t in text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
