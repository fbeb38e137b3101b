"""Reference solutions: HGS (PyVRP's hybrid genetic search) on each instance, cached in ``data/references.json``.

HGS works on integer distances, so coordinates are scaled by :data:`SCALE` and
each Euclidean distance rounded; the float cost of the solution it returns is
recomputed here on the unrounded distances. Cached entries are keyed by the
instance's fingerprint, so a changed generator never silently reuses an old
reference.

Regenerate (CPU heavy: the sum of every dataset's ``reference_time_s``)::

    python problems/cvrp/reference.py            # every split, missing entries only
    python problems/cvrp/reference.py --force    # recompute everything
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / "data" / "references.json"
SCALE = 10_000


def hgs_solve(coords: np.ndarray, demands: np.ndarray, capacity: float, seconds: float, seed: int = 1) -> list:
    """Routes (lists of customer ids) found by PyVRP's HGS in ``seconds`` of wall time on rounded scaled distances."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    xy = np.asarray(coords, dtype=np.float64)
    n = xy.shape[0] - 1
    diff = xy[:, None, :] - xy[None, :, :]
    dist = np.rint(SCALE * np.sqrt((diff * diff).sum(axis=2))).astype(np.int64)
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(float(x) * SCALE, float(y) * SCALE) for x, y in xy],
        clients=[pyvrp.Client(location=i, delivery=[int(round(demands[i]))]) for i in range(1, n + 1)],
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[pyvrp.VehicleType(num_available=n, capacity=[int(round(capacity))])],
        distance_matrices=[dist], duration_matrices=[np.zeros_like(dist)])
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, display=False)
    if not result.best.is_feasible():
        raise RuntimeError("HGS returned an infeasible solution")
    clients = data.clients()
    return [[int(clients[a.idx].location) for a in route if a.is_client()] for route in result.best.routes()]


def load_cache(path: Path = CACHE) -> dict:
    """The cached references: ``{"solver": ..., "instances": {fingerprint: {...}}}`` (empty when absent)."""
    if not path.is_file():
        return {"instances": {}}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record.get("instances"), dict):
            raise ValueError("no 'instances' table")
        return record
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a reference cache: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE.parents[1]))
    from importlib.metadata import version

    from beam.problem import import_by_path, load_problem

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="*", default=["train", "validation", "test"])
    parser.add_argument("--force", action="store_true", help="recompute cached entries too")
    args = parser.parse_args(argv)
    instances = import_by_path(HERE / "instances.py", "beam_problem_cvrp_instances")
    routes_mod = import_by_path(HERE / "validate.py", "beam_problem_cvrp_validate")
    problem = load_problem(HERE)
    cache = load_cache()
    cache["solver"] = f"pyvrp {version('pyvrp')} (HGS), distances x{SCALE} rounded, MaxRuntime"
    for split in args.splits:
        for spec in problem.section("splits")[split]:
            data = instances.dataset(spec, problem.root)
            seconds = float(spec.get("reference_time_s", data.time_limit_s))
            for inst in data.instances:
                key = inst.fingerprint()
                if key in cache["instances"] and not args.force:
                    continue
                start = time.perf_counter()
                routes = hgs_solve(inst.coords, inst.demands, inst.capacity, seconds)
                cost = routes_mod.checked_cost(routes, inst)
                cache["instances"][key] = {"name": inst.name, "split": split, "cost": cost, "seconds": seconds,
                                           "routes": routes}
                print(f"{inst.name}: {cost:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
                CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
