"""Rebuild data/references.json: the best tour found for every generated instance of problem.toml.

Method: classic guided local search from heubase.tsp_gls (distance guide,
Voudouris-Tsang utility, no iteration limit) run SEEDS times per instance with
a longer time than the candidates get (see BUDGET); the shortest tour wins.
Existing entries with the same distances are kept unless --force.

    .venv/bin/python problems/tsp_gls/data/make_references.py [--force | --improve] [--split NAME] [--seconds S]

``--improve`` runs again on cached instances (GLS with the rank guide of
heubase.tsp_gls.guides, blend 0.68, lambda factor 0.4: the guide the composer
evolved) and keeps a tour only where it is shorter; ``--split NAME`` limits a run
to one split. ``--seconds S`` runs one seed of S seconds per instance instead (for tests).
``--compare-pyvrp CITIES SEED SECONDS`` instead solves one generated instance
with pyvrp (one uncapacitated vehicle, coordinates x 1e6, needs ``pip install
pyvrp``) and with this GLS for the same time and prints both lengths.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from beam.problem import import_by_path, load_problem  # noqa: E402
from heubase.tsp_gls.gls import guided_local_search  # noqa: E402
from heubase.tsp_gls.guides import rank_guide  # noqa: E402
from heubase.tsp_gls.tours import tour_length  # noqa: E402

instances = import_by_path(HERE.parent / "instances.py", "beam_problem_tsp_gls_instances")


def budget(cities: int) -> tuple[int, float]:
    """(seeds, seconds per seed) of the reference runs for an instance of ``cities`` cities."""
    if cities <= 100:
        return 2, 8.0
    if cities <= 200:
        return 2, 15.0
    return 1, 60.0


def pyvrp_tour(xy: np.ndarray, seconds: float, scale: float = 1e6) -> np.ndarray:
    """Tour of pyvrp's HGS with one uncapacitated vehicle on integer distances round(scale x Euclidean)."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    model = Model()
    model.add_vehicle_type(num_available=1)
    locations = [model.add_location(x=float(a), y=float(b)) for a, b in xy]
    model.add_depot(locations[0])
    for location in locations[1:]:
        model.add_client(location)
    dist = np.rint(instances.euclidean(xy) * scale).astype(np.int64)
    for i, frm in enumerate(locations):
        for j, to in enumerate(locations):
            model.add_edge(frm, to, distance=int(dist[i, j]))
    result = model.solve(stop=MaxRuntime(seconds), display=False, seed=1)
    visits = [a.idx + 1 for a in result.best.routes()[0] if a.is_client()]  # client k is location k + 1
    return np.asarray([0] + visits, dtype=np.int64)


def compare_pyvrp(cities: int, seed: int, seconds: float) -> None:
    xy = instances.uniform_coordinates(cities, seed)
    d = instances.euclidean(xy)
    print(f"pyvrp HGS, {seconds:g} s: {tour_length(d, pyvrp_tour(xy, seconds)):.4f}")
    print(f"classic GLS, {seconds:g} s: {tour_length(d, guided_local_search(d, d, seconds, 0, iter_limit=10**9)):.4f}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--compare-pyvrp"]:
        compare_pyvrp(int(argv[1]), int(argv[2]), float(argv[3]))
        return 0
    force = "--force" in argv
    improve = "--improve" in argv  # run again on cached instances too and keep the better tour
    quick = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else None  # one seed of that many seconds
    problem = load_problem(HERE.parent)
    path = instances.REFERENCES
    refs = instances.load_references(path)
    splits = [argv[argv.index("--split") + 1]] if "--split" in argv else ["train", "validation", "test"]
    for split in splits:
        for spec in problem.config["splits"][split]:
            if "file" in spec:
                continue
            data = instances.generated(spec, references={})
            for inst in data.instances:
                fp = instances.fingerprint(inst.distance)
                old = refs.get(inst.name)
                cached = bool(old and old.get("fingerprint") == fp)
                if cached and not force and not improve:
                    continue
                seeds, seconds = budget(inst.cities) if quick is None else (1, quick)
                if improve:
                    guide, lam, label = rank_guide(inst.distance, blend=0.68), 0.4, "rank-guide GLS (lambda 0.4)"
                else:
                    guide, lam, label = inst.distance, 0.1, "classic GLS"
                best, best_len = None, float("inf")
                for seed in range(seeds):
                    tour = guided_local_search(inst.distance, guide, seconds, seed, iter_limit=10**9, lambda_factor=lam)
                    length = tour_length(inst.distance, tour)
                    if length < best_len:
                        best, best_len = tour, length
                method = f"{label} (heubase.tsp_gls), best of {seeds} seeds x {seconds:g} s"
                if cached and improve:
                    if old["length"] <= best_len:
                        print(f"{time.strftime('%H:%M:%S')} {inst.name}: kept {old['length']:.6f} "
                              f"(new run {best_len:.6f})", flush=True)
                        continue
                    method = f"{old['method']}; improved by {method}"
                refs[inst.name] = {"length": best_len, "fingerprint": fp, "tour": best.tolist(), "method": method}
                print(f"{time.strftime('%H:%M:%S')} {inst.name}: {best_len:.6f}", flush=True)
                path.write_text(json.dumps(refs, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
