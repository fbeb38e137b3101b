"""Reference set sizes: KaMIS ReduMIS (through the ``chszlablib`` package), computed once and cached.

``data/reference.json`` maps every graph of every split (by name) to its
fingerprint, the size ReduMIS found and how (solver, seconds). The evaluator
reads sizes from it; a graph missing from the cache, or whose fingerprint
changed (e.g. a new generator), is solved on the spot with the same settings.
Without ``chszlablib`` the fallback is a long run of HeuBase's ARW iterated
local search, and the result records which solver gave each size.

Regenerate the cache (about 8 minutes on one core):

    python problems/mis/reference.py            # every split; keeps valid entries
    python problems/mis/reference.py --force    # recompute everything
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
COMMAND = "python problems/mis/reference.py"
_LIVE: dict[tuple[str, float], tuple[int, str]] = {}  # graphs solved on the spot in this process


def kamis_size(indptr: np.ndarray, indices: np.ndarray, time_s: float, seed: int = 0) -> tuple[int, str]:
    """Size of the independent set KaMIS ReduMIS finds in ``time_s`` seconds, and the solver's name.

    Falls back to HeuBase's ARW iterated local search when ``chszlablib`` is not
    installed. The returned set is checked for independence before it counts.
    """
    from heubase.mis.graph import is_independent

    try:
        from chszlablib import Graph, IndependenceProblems
    except ImportError:
        from heubase.mis.construct import greedy_min_degree
        from heubase.mis.local_search import arw_ils

        rng = np.random.default_rng(seed)
        start = greedy_min_degree(indptr, indices, rng)
        mask = arw_ils(indptr, indices, start, rng, time.perf_counter() + time_s)
        solver = "HeuBase ARW ILS (chszlablib not installed)"
    else:
        result = IndependenceProblems.redumis(Graph.from_csr(indptr, indices), float(time_s), int(seed))
        mask = np.zeros(len(indptr) - 1, dtype=bool)
        mask[np.asarray(result.vertices, dtype=np.int64)] = True
        solver = f"KaMIS ReduMIS (chszlablib {version('chszlablib')})"
    if not is_independent(indptr, indices, mask):
        raise RuntimeError(f"{solver} returned a set with an edge inside")
    return int(mask.sum()), solver


def time_for(problem, dataset_spec: dict | None) -> float:
    """ReduMIS seconds for a dataset: ``[reference].time_s[preset]`` or ``default_time_s``."""
    cfg = problem.section("reference")
    preset = (dataset_spec or {}).get("preset")
    return float(cfg.get("time_s", {}).get(preset, cfg.get("default_time_s", 20.0)))


def cache_path(problem) -> Path:
    return problem.root / str(problem.section("reference").get("file", "data/reference.json"))


def load_cache(path: Path) -> dict:
    """The cached record (``{"instances": {}}`` when the file does not exist); a corrupt file is an error."""
    if not path.is_file():
        return {"instances": {}}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record.get("instances"), dict):
            raise ValueError("no 'instances' table")
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: not a reference cache: {exc}") from None
    return record


def lookup(record: dict, graph) -> dict | None:
    """The cached entry of ``graph`` when present and its fingerprint matches, else None."""
    entry = record["instances"].get(graph.name)
    if entry is not None and entry.get("fingerprint") == graph.fingerprint():
        return entry
    return None


def reference_sizes(problem, data, time_s: float) -> tuple[list[int], set[str]]:
    """Reference size of every graph of dataset ``data`` (cache first) and the solvers that gave them."""
    record = load_cache(cache_path(problem))
    sizes, solvers = [], set()
    for graph in data.graphs:
        entry = lookup(record, graph)
        if entry is None:
            key = (graph.fingerprint(), time_s)
            if key not in _LIVE:
                _LIVE[key] = kamis_size(graph.indptr, graph.indices, time_s)
            entry = {"size": _LIVE[key][0], "solver": _LIVE[key][1]}
        sizes.append(int(entry["size"]))
        solvers.add(str(entry["solver"]))
    return sizes, solvers


def build(problem, splits: list[str], force: bool = False, log=print) -> dict:
    """Solve every graph of ``splits`` not validly cached (all with ``force``) and write the cache."""
    from beam.problem import import_by_path

    instances = import_by_path(HERE / "instances.py", "beam_problem_mis_instances")
    path = cache_path(problem)
    record = {"instances": {}} if force else load_cache(path)
    record["command"] = COMMAND
    record["note"] = "Reference set sizes for problems/mis (see reference.py); graph name -> ReduMIS result."
    for split in splits:
        for spec in problem.section("splits")[split]:
            data = instances.dataset(spec, problem.root)
            seconds = time_for(problem, spec)
            for graph in data.graphs:
                if not force and lookup(record, graph) is not None:
                    continue
                started = time.perf_counter()
                size, solver = kamis_size(graph.indptr, graph.indices, seconds)
                record["instances"][graph.name] = {
                    "fingerprint": graph.fingerprint(), "size": size, "solver": solver, "time_s": seconds,
                    "vertices": graph.num_nodes, "edges": graph.num_edges,
                    "clique_bound": graph.info.get("n"), "wall_s": round(time.perf_counter() - started, 2)}
                log(f"{graph.name}: {size} (bound {graph.info.get('n')}, {graph.num_nodes} vertices, {seconds:g} s)")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE.parents[1]))
    from beam.problem import load_problem

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="*", default=["train", "validation", "test"])
    parser.add_argument("--force", action="store_true", help="recompute every entry")
    args = parser.parse_args(argv)
    build(load_problem(HERE), args.splits, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
