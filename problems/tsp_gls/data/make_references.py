"""Rebuild data/references.json: the best tour found for every generated instance of problem.toml.

Method: classic guided local search from heubase.tsp_gls (distance guide,
Voudouris-Tsang utility, no iteration limit) run SEEDS times per instance with
a longer time than the candidates get (see BUDGET); the shortest tour wins.
Existing entries with the same distances are kept unless --force.

    .venv/bin/python problems/tsp_gls/data/make_references.py [--force]
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
from heubase.tsp_gls.tours import tour_length  # noqa: E402

instances = import_by_path(HERE.parent / "instances.py", "beam_problem_tsp_gls_instances")


def budget(cities: int) -> tuple[int, float]:
    """(seeds, seconds per seed) of the reference runs for an instance of ``cities`` cities."""
    if cities <= 100:
        return 2, 8.0
    if cities <= 200:
        return 2, 15.0
    return 1, 60.0


def main(argv: list[str]) -> int:
    force = "--force" in argv
    problem = load_problem(HERE.parent)
    path = instances.REFERENCES
    refs = instances.load_references(path)
    for split in ("train", "validation", "test"):
        for spec in problem.config["splits"][split]:
            if "file" in spec:
                continue
            data = instances.generated(spec, references={})
            for inst in data.instances:
                fp = instances.fingerprint(inst.distance)
                old = refs.get(inst.name)
                if old and old.get("fingerprint") == fp and not force:
                    continue
                seeds, seconds = budget(inst.cities)
                best, best_len = None, float("inf")
                for seed in range(seeds):
                    tour = guided_local_search(inst.distance, inst.distance, seconds, seed, iter_limit=10**9)
                    length = tour_length(inst.distance, tour)
                    if length < best_len:
                        best, best_len = tour, length
                refs[inst.name] = {"length": best_len, "fingerprint": fp, "tour": best.tolist(),
                                   "method": f"classic GLS (heubase.tsp_gls), best of {seeds} seeds x {seconds:g} s"}
                print(f"{time.strftime('%H:%M:%S')} {inst.name}: {best_len:.6f}", flush=True)
                path.write_text(json.dumps(refs, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
