"""BBOB baselines beside the published figures (the paper's Table VI: gap = f(x) - f_opt after the budget).

Rows: random search and CMA-ES of the ``cma`` package with default settings
(both trusted, run in this process on the same runs, seeds and budgets as the
evaluator; CMA-ES's gaps are read from problems/bbob/data/cma_reference.json
when it holds them, see problems/bbob/reference_cache.py), then hand-written HeuBase compositions run through the real
evaluator (sandbox, host-side objective); the composition with the best
*validation* fitness is the one scored on the test split. Then the published
rows of Table VI (marked "published"; their dimension and budget are not
stated in the paper, ours are d = 10 and 2000 x d evaluations).

Columns: mean gap over the 5 instances of Rastrigin (BBOB f3), Rosenbrock
(f8), Sphere (f1), Ackley and Griewank (ours, see problems/bbob/instances.py)
and their average, as in Table VI; then the mean log10(gap + 1e-8) over the
other 21 BBOB functions at d = 10 (instance 1), and seconds.

    python benchmarks/bbob_baselines.py [--markdown] [--skip-compositions]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beam.catalog import bind, find  # noqa: E402
from beam.evolve import heubase_components  # noqa: E402
from beam.generators.composer import Composer, slot_of  # noqa: E402
from beam.problem import load_problem  # noqa: E402
from beam.program import Program  # noqa: E402

BBOB = ROOT / "problems" / "bbob"
PAPER_FIVE = ["Rastrigin (f3)", "Rosenbrock (f8)", "Sphere (f1)", "Ackley", "Griewank"]

#: Table VI of the BEAM paper (published, not measured here).
PUBLISHED = [
    ("LLaMEA ERADS (published)", [0.995, 0.000, 0.000, 4.4e-16, 0.007]),
    ("ReEvo (published)", [0.002, 4.785, 0.000, 1.1e-5, 1e-6]),
    ("EoH (published)", [10.519, 14.804, 0.543, 0.714, 3.5799]),
    ("LLaMEA-HPO (published)", [1.512, 0.419, 5.5e-10, 6.9e-5, 0.001]),
    ("BEAM (published)", [0.026, 0.000, 0.000, 0.000, 0.007]),
]

#: Hand-written compositions: skeleton and the HeuBase component realising each placeholder.
COMPOSITIONS = {
    "IPOP-CMA-ES (HeuBase)": ("es_restarts.py", {"func_1": "sample_gaussian", "func_2": "clip_to_box",
                                                 "func_3": "cma_update", "func_4": "ipop_popsize"}),
    "BIPOP-CMA-ES, mirrored (HeuBase)": ("es_restarts.py", {"func_1": "sample_mirrored", "func_2": "reflect_into_box",
                                                            "func_3": "cma_update", "func_4": "bipop_popsize"}),
    "DE pbest + CMA local (HeuBase)": ("de_then_local.py", {"func_1": "de_current_to_pbest_1",
                                                            "func_2": "reflect_into_box",
                                                            "func_3": "binomial_crossover", "func_4": "cma_local"}),
    "LHS + Nelder-Mead (HeuBase)": ("design_then_local.py", {"func_1": "latin_hypercube", "func_2": "nelder_mead"}),
}


def compose(skeleton: str, parts: dict[str, str]) -> str:
    """Source of ``skeleton`` with each placeholder realised by one call of the named HeuBase component."""
    problem = load_problem(BBOB)
    components = heubase_components(problem)
    program = Program.parse((BBOB / "skeletons" / skeleton).read_text(encoding="utf-8"))
    for placeholder in program.placeholders():
        slot = slot_of(placeholder)
        component = find(components, parts[placeholder.name])
        mapping = bind(component, slot.params, slot.returns, skip=True)
        if mapping is None:
            raise ValueError(f"{component.name} does not fit {placeholder.name} of {skeleton}")
        body = (f"{placeholder.signature}\n    {component.import_line}\n"
                f"    return {Composer._call(component, mapping, [])}\n")
        program = program.with_function(placeholder.name, body)
    return program.source


def random_search(objective, dim: int, lower: float, upper: float, budget: int, seed: int) -> np.ndarray:
    """Uniform random points in batches of 1000; the best one."""
    rng = np.random.default_rng(seed)
    best_x, best_f, used = None, np.inf, 0
    while used < budget:
        points = rng.uniform(lower, upper, (min(1000, budget - used), dim))
        values = objective(points)
        used += len(points)
        k = int(np.argmin(values))
        if values[k] < best_f:
            best_x, best_f = points[k], float(values[k])
    return best_x


def host_gaps(evaluator, instances, optimiser, datasets) -> dict[str, list[float]]:
    """Gaps of a trusted optimiser run in this process on every run of ``datasets``."""
    out = {}
    for data in datasets:
        gaps = []
        for run in data.runs:
            objective = instances.objective(run)
            served = evaluator.BudgetedObjective(objective, run.dim, instances.LOWER, instances.UPPER, run.budget)
            x = optimiser(served, run.dim, instances.LOWER, instances.UPPER, run.budget, run.seed)
            gaps.append(evaluator.gap_of(objective, evaluator.solution_point([np.asarray(x)], run.dim)))
        out[data.name] = gaps
    return out


def row(name: str, gaps: dict[str, list[float]], log_gap, seconds: float | None) -> list[str]:
    five = [float(np.mean(gaps[f])) for f in PAPER_FIVE]
    rest = [np.mean([log_gap(g) for g in v]) for k, v in gaps.items() if k not in PAPER_FIVE]
    return ([name] + [f"{v:.3g}" for v in five] + [f"{np.mean(five):.3g}", f"{np.mean(rest):.2f}" if rest else "",
                                                     f"{seconds:.0f}" if seconds is not None else ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--skip-compositions", action="store_true", help="only the in-process baselines")
    args = parser.parse_args(argv)
    problem = load_problem(BBOB)
    evaluator = problem.evaluator()
    instances = evaluator.instances
    test = instances.split_datasets(problem, "test")
    start = time.perf_counter()
    rows = [row("random search", host_gaps(evaluator, instances, random_search, test), evaluator.log_gap,
                time.perf_counter() - start)]
    start = time.perf_counter()  # the evaluator's reference: data/cma_reference.json, else run here
    cached = all(evaluator.run_key(r) in evaluator.cached_reference() for d in test for r in d.runs)
    rows.append(row("CMA-ES (cma, default settings)", {d.name: evaluator.reference_gaps(problem, d) for d in test},
                    evaluator.log_gap, time.perf_counter() - start))
    if cached:
        rows[-1][-1] = "cached"
    if not args.skip_compositions:
        best_name, best_fit, sources = None, -np.inf, {}
        with tempfile.TemporaryDirectory() as tmp:
            for name, (skeleton, parts) in COMPOSITIONS.items():
                path = Path(tmp) / f"{skeleton.removesuffix('.py')}_{len(sources)}.py"
                path.write_text(compose(skeleton, parts), encoding="utf-8")
                sources[name] = path
                result = problem.evaluate(path, split="validation", reference=False)
                fitness = result["fitness"] if result["valid"] else -np.inf
                error = "" if result["valid"] else f" ({result['error']})"
                print(f"validation fitness {fitness:.3f}  {name}{error}", file=sys.stderr)
                if fitness > best_fit:
                    best_name, best_fit = name, fitness
            start = time.perf_counter()
            result = problem.evaluate(sources[best_name], split="test", reference=False)
            if not result["valid"]:
                raise SystemExit(f"{best_name}: {result['error']}")
            gaps = {k: v["gaps"] for k, v in result["datasets"].items()}
            rows.append(row(f"{best_name}, best on validation", gaps, evaluator.log_gap, time.perf_counter() - start))
    for name, five in PUBLISHED:
        rows.append([name] + [f"{v:.3g}" for v in five] + [f"{np.mean(five):.3g}", "", ""])
    header = ["method", *PAPER_FIVE, "average", "other 21 BBOB: mean log10 gap", "seconds"]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" + "---:|" * (len(header) - 1))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
