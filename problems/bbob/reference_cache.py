"""Write ``data/cma_reference.json``: the reference optimiser's gap on every run of every split.

The evaluator shows CMA-ES (``reference_solver.py``) beside each dataset; running it
costs minutes on the test split, so its gaps are cached here (a few kB). Rerun after
changing a split, a budget or the reference:

    python problems/bbob/reference_cache.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from beam.problem import load_problem  # noqa: E402


def main() -> int:
    problem = load_problem(HERE)
    evaluator = problem.evaluator()
    gaps: dict[str, float] = {}
    for split in ("train", "validation", "test"):
        for data in evaluator.instances.split_datasets(problem, split):
            for run in data.runs:
                gaps[evaluator.run_key(run)] = evaluator._reference_gap(str(problem.file("reference")), run)
            print(f"{split:10s} {data.name}", file=sys.stderr)
    import cma

    record = {"reference": f"reference_solver.py (cma {cma.__version__}, default settings)", "gaps": gaps}
    evaluator.REFERENCE_CACHE.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(gaps)} gaps to {evaluator.REFERENCE_CACHE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
