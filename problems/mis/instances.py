"""Maximum-independent-set instances: RB-model generator, graph-file loaders and the named datasets.

A *graph* is an undirected simple graph in CSR form: ``indptr`` (int64,
``n + 1``) and ``indices`` (int64, ``2 m``; the neighbours of ``v`` are
``indices[indptr[v]:indptr[v + 1]]``, sorted, no self-loops, every edge stored
in both directions). A *dataset* is a named list of graphs solved under one
per-instance time limit.

Generator (deterministic for a seed, numpy ``default_rng``): :func:`rb_graph`,
Xu and Li's model RB read as a graph, as the DIMES / DIFUSCO / RLSA line of work
samples it. Draw ``n`` (cliques) and ``k`` (clique size) uniformly from the
preset's half-open ranges until ``n k`` lies in the vertex range, then
``p ~ U[p_low, p_high)``; with ``a = ln k / ln n`` and ``r = -a / ln(1 - p)``,
make ``n`` disjoint ``k``-cliques, then ``int(r n ln n - 1)`` times pick two
distinct cliques and join ``int(p k^2)`` of their ``k^2`` vertex pairs not
joined yet (all remaining ones if fewer). The largest independent set has at
most ``n`` vertices (one per clique). Presets (:data:`RB_PRESETS`):

* ``RB-200-300``: ``n in [20, 25)``, ``k in [5, 12)``, 200-300 vertices;
* ``RB-800-1200``: ``n in [40, 55)``, ``k in [20, 25)``, 800-1200 vertices;

both with ``p in [0.3, 1.0)``.

Loaders (:func:`load_file`, by content/suffix): METIS (KaMIS's input format,
``.graph``/``.metis``), DIMACS ``p edge`` files (``.dimacs``/``.col``/``.clq``,
or any file with a ``p`` line) and plain 0-based edge lists (``u v`` per line,
``#`` comments). Anything malformed raises :class:`InstanceError` naming the file.

``python problems/mis/instances.py`` prints every configured dataset.
"""
from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

#: name -> (clique-count range, clique-size range, tightness range, vertex range); ranges of n, k, p half-open.
RB_PRESETS: dict[str, dict[str, tuple]] = {
    "RB-200-300": {"n": (20, 25), "k": (5, 12), "p": (0.3, 1.0), "vertices": (200, 300)},
    "RB-800-1200": {"n": (40, 55), "k": (20, 25), "p": (0.3, 1.0), "vertices": (800, 1200)},
}


class InstanceError(ValueError):
    """A graph file or dataset specification is malformed."""


@dataclass(frozen=True)
class Graph:
    """One undirected simple graph in CSR form (see the module docstring); ``info`` holds generator parameters."""

    name: str
    indptr: np.ndarray
    indices: np.ndarray
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def num_nodes(self) -> int:
        return int(self.indptr.size - 1)

    @property
    def num_edges(self) -> int:
        return int(self.indices.size // 2)

    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over the CSR arrays: identifies the graph in the reference cache."""
        digest = hashlib.sha256(self.indptr.astype(np.int64).tobytes())
        digest.update(self.indices.astype(np.int64).tobytes())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Dataset:
    """A named list of graphs with the per-instance time limit (seconds) the solver is given."""

    name: str
    graphs: tuple[Graph, ...]
    time_limit_s: float


def csr_from_edges(num_nodes: int, edges: np.ndarray, where: str = "graph") -> tuple[np.ndarray, np.ndarray]:
    """Symmetric, sorted, duplicate-free CSR arrays from an ``[m, 2]`` array of 0-based edges.

    Self-loops raise :class:`InstanceError` (a vertex with a loop could never be chosen; files with
    loops are usually mis-indexed). Duplicate and reversed edges are merged.

    >>> indptr, indices = csr_from_edges(3, np.array([[0, 1], [1, 0], [1, 2]]))
    >>> indptr.tolist(), indices.tolist()
    ([0, 1, 3, 4], [1, 0, 2, 1])
    """
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise InstanceError(f"{where}: vertex id out of range [0, {num_nodes})")
    loops = edges[:, 0] == edges[:, 1]
    if loops.any():
        raise InstanceError(f"{where}: self-loop at vertex {int(edges[loops][0, 0])}")
    both = np.concatenate([edges, edges[:, ::-1]])
    codes = np.unique(both[:, 0] * num_nodes + both[:, 1])
    rows, cols = codes // max(num_nodes, 1), codes % max(num_nodes, 1)
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=num_nodes), out=indptr[1:])
    return indptr, cols.astype(np.int64)


def check_csr(indptr: np.ndarray, indices: np.ndarray, where: str = "graph") -> None:
    """Raise :class:`InstanceError` unless the arrays are a valid symmetric simple-graph CSR."""
    indptr, indices = np.asarray(indptr), np.asarray(indices)
    if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or indptr[-1] != indices.size:
        raise InstanceError(f"{where}: indptr must start at 0 and end at len(indices)")
    if np.any(np.diff(indptr) < 0):
        raise InstanceError(f"{where}: indptr must be non-decreasing")
    n = indptr.size - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    again = csr_from_edges(n, np.stack([rows, indices], axis=1), where)
    if not (np.array_equal(again[0], indptr) and np.array_equal(again[1], indices)):
        raise InstanceError(f"{where}: adjacency is not symmetric, sorted and duplicate-free")


# ---------------------------------------------------------------- RB model

def rb_parameters(rng: np.random.Generator, preset: dict[str, tuple]) -> tuple[int, int, float]:
    """Draw ``(n, k, p)`` for one RB graph of ``preset`` (see the module docstring)."""
    (n_lo, n_hi), (k_lo, k_hi), (v_lo, v_hi) = preset["n"], preset["k"], preset["vertices"]
    for _ in range(10_000):
        n, k = int(rng.integers(n_lo, n_hi)), int(rng.integers(k_lo, k_hi))
        if v_lo <= n * k <= v_hi:
            return n, k, float(rng.uniform(*preset["p"]))
    raise InstanceError(f"RB preset {preset}: no clique count/size gives a vertex count in {preset['vertices']}")


def rb_graph(name: str, seed: int, preset: str | dict[str, tuple] = "RB-200-300") -> Graph:
    """One RB-model graph (Xu and Li's model RB; parameters in the module docstring), deterministic in ``seed``.

    >>> g = rb_graph("demo", 0)
    >>> 200 <= g.num_nodes <= 300 and g.info["n"] * g.info["k"] == g.num_nodes
    True
    """
    spec = RB_PRESETS[preset] if isinstance(preset, str) else preset
    rng = np.random.default_rng(seed)
    n, k, p = rb_parameters(rng, spec)
    a = math.log(k) / math.log(n)
    r = -a / math.log(1.0 - p)
    per_pair = int(p * k * k)
    rounds = max(0, int(r * n * math.log(n) - 1))
    local = np.array([(i, j) for i in range(k) for j in range(i + 1, k)], dtype=np.int64).reshape(-1, 2)
    parts = [local + c * k for c in range(n)]
    used: dict[tuple[int, int], np.ndarray] = {}
    for _ in range(rounds):
        ci, cj = sorted(int(c) for c in rng.choice(n, 2, replace=False))
        taken = used.setdefault((ci, cj), np.zeros(k * k, dtype=bool))
        free = np.flatnonzero(~taken)
        pick = rng.choice(free, min(per_pair, free.size), replace=False)
        taken[pick] = True
        parts.append(np.stack([ci * k + pick // k, cj * k + pick % k], axis=1))
    indptr, indices = csr_from_edges(n * k, np.concatenate(parts), f"RB graph {name}")
    return Graph(name, indptr, indices, {"model": "RB", "n": n, "k": k, "p": round(p, 6), "seed": seed})


# ---------------------------------------------------------------- loaders

def _lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError(f"{path}: cannot read: {exc}") from None


def load_metis(path: Path) -> Graph:
    """A graph from a METIS file (as KaMIS reads it): header ``n m [fmt [ncon]]``, then one line per vertex
    with its 1-based neighbours (``%`` comments; with ``fmt`` ``1x``/``x1`` node/edge weights are skipped)."""
    lines = [line for line in _lines(path) if not line.lstrip().startswith("%")]
    try:
        head = lines[0].split()
        n, m = int(head[0]), int(head[1])
        fmt = head[2] if len(head) > 2 else "0"
        ncon = int(head[3]) if len(head) > 3 else 1
        node_w, edge_w = (ncon if fmt.zfill(3)[-2] == "1" else 0), fmt.zfill(3)[-1] == "1"
        body = lines[1:]
        while len(body) > n and not body[-1].strip():
            body.pop()
        if len(body) != n:
            raise ValueError(f"header announces {n} vertices, found {len(body)} vertex lines")
        edges = []
        for v, line in enumerate(body):
            values = [int(t) for t in line.split()][node_w:]
            nbrs = values[::2] if edge_w else values
            edges.extend((v, u - 1) for u in nbrs)
        arr = np.array(edges, dtype=np.int64).reshape(-1, 2)
        if arr.size and (arr[:, 1].min() < 0 or arr[:, 1].max() >= n):
            raise ValueError(f"a neighbour id is outside 1..{n}")
        if len(edges) != 2 * m:
            raise ValueError(f"header announces {m} edges, the lists hold {len(edges)} entries (expected {2 * m})")
        indptr, indices = csr_from_edges(n, arr, str(path))
        if indices.size != len(edges):
            raise ValueError("adjacency lists are not symmetric or hold duplicates")
    except (IndexError, ValueError) as exc:
        if isinstance(exc, InstanceError):
            raise
        raise InstanceError(f"{path}: not a METIS graph: {exc}") from None
    return Graph(Path(path).stem, indptr, indices, {"file": str(path)})


def load_dimacs(path: Path) -> Graph:
    """A graph from a DIMACS file: ``c`` comments, ``p edge N M`` (or ``p col``), then ``e u v`` (1-based)."""
    n, m, edges = None, None, []
    try:
        for number, line in enumerate(_lines(path), 1):
            parts = line.split()
            if not parts or parts[0] == "c":
                continue
            if parts[0] == "p":
                n, m = int(parts[2]), int(parts[3])
            elif parts[0] == "e":
                if n is None:
                    raise ValueError(f"line {number}: edge before the 'p edge N M' line")
                edges.append((int(parts[1]) - 1, int(parts[2]) - 1))
            else:
                raise ValueError(f"line {number}: unexpected line {line.strip()[:40]!r}")
        if n is None:
            raise ValueError("no 'p edge N M' line")
        if len(edges) != m:
            raise ValueError(f"'p' line announces {m} edges, found {len(edges)}")
    except (IndexError, ValueError) as exc:
        raise InstanceError(f"{path}: not a DIMACS graph: {exc}") from None
    indptr, indices = csr_from_edges(n, np.array(edges, dtype=np.int64).reshape(-1, 2), str(path))
    return Graph(Path(path).stem, indptr, indices, {"file": str(path)})


def load_edge_list(path: Path) -> Graph:
    """A graph from a plain edge list: ``u v`` per line, 0-based ids, ``#``/``%`` comments; n = largest id + 1."""
    edges = []
    try:
        for number, line in enumerate(_lines(path), 1):
            parts = line.split()
            if not parts or parts[0][0] in "#%":
                continue
            if len(parts) < 2:
                raise ValueError(f"line {number}: expected two vertex ids")
            edges.append((int(parts[0]), int(parts[1])))
    except ValueError as exc:
        raise InstanceError(f"{path}: not an edge list: {exc}") from None
    if not edges:
        raise InstanceError(f"{path}: not an edge list: no edges")
    arr = np.array(edges, dtype=np.int64)
    if arr.min() < 0:
        raise InstanceError(f"{path}: not an edge list: negative vertex id")
    indptr, indices = csr_from_edges(int(arr.max()) + 1, arr, str(path))
    return Graph(Path(path).stem, indptr, indices, {"file": str(path)})


def load_file(path: Path) -> Graph:
    """Any supported graph file: METIS for ``.graph``/``.metis``, DIMACS when a line starts with ``p``, else an edge list."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"{path}: no such graph file")
    if path.suffix in (".graph", ".metis"):
        return load_metis(path)
    if path.suffix in (".dimacs", ".col", ".clq") or any(line.startswith("p ") for line in _lines(path)[:50]):
        return load_dimacs(path)
    return load_edge_list(path)


def write_metis(graph: Graph, path: Path) -> None:
    """Write ``graph`` as a METIS file (what KaMIS's command-line tools read)."""
    lines = [f"{graph.num_nodes} {graph.num_edges}"]
    for v in range(graph.num_nodes):
        lines.append(" ".join(str(u + 1) for u in graph.indices[graph.indptr[v]:graph.indptr[v + 1]]))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- datasets

def generated(spec: dict[str, Any], where: str = "problem.toml") -> Dataset:
    """A dataset from a ``[[splits.<name>]]`` table: ``kind = "rb"``, ``preset``, ``instances``, ``seed``,
    ``time_limit_s``; graph ``i`` is seeded with ``seed + i``."""
    try:
        name, preset, seed = str(spec["name"]), str(spec["preset"]), int(spec["seed"])
        count, limit = int(spec.get("instances", 1)), float(spec["time_limit_s"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InstanceError(f"{where}: dataset {spec.get('name')!r} needs name, preset, seed and time_limit_s "
                            f"({exc})") from None
    if spec.get("kind", "rb") != "rb" or preset not in RB_PRESETS:
        raise InstanceError(f"{where}: dataset {name!r}: kind must be 'rb' and preset one of {', '.join(RB_PRESETS)}")
    return Dataset(name, tuple(rb_graph(f"{name}/{i}", seed + i, preset) for i in range(count)), limit)


def dataset(spec: dict[str, Any], root: Path = HERE, where: str = "problem.toml") -> Dataset:
    """A dataset from its problem.toml table: ``files = [...]`` (relative to ``root``) or an RB generator spec."""
    if "files" in spec:
        graphs = tuple(load_file(root / str(f)) for f in spec["files"])
        return Dataset(str(spec.get("name", "files")), graphs, float(spec.get("time_limit_s", 1.0)))
    return generated(spec, where)


def split_datasets(problem, split: str) -> list[Dataset]:
    """The datasets of ``split`` as ``[[splits.<split>]]`` of problem.toml lists them."""
    splits = problem.section("splits")
    where = str(problem.root / "problem.toml")
    if split not in splits:
        raise InstanceError(f"{where}: no [[splits.{split}]] datasets (have: {', '.join(splits) or 'none'})")
    return [dataset(spec, problem.root, where) for spec in splits[split]]


def main() -> int:
    sys.path.insert(0, str(HERE.parents[1]))
    from beam.problem import load_problem

    problem = load_problem(HERE)
    for split in problem.section("splits"):
        for data in split_datasets(problem, split):
            nodes = [g.num_nodes for g in data.graphs]
            edges = [g.num_edges for g in data.graphs]
            print(f"{split:<10} {data.name:<26} {len(data.graphs):>3} graphs, {min(nodes)}-{max(nodes)} vertices, "
                  f"mean {np.mean(edges):.0f} edges, {data.time_limit_s:g} s each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
