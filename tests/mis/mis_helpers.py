"""Helpers for MIS tests: problem-folder modules are imported by path (they are not packages), small hand graphs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beam.problem import import_by_path

ROOT = Path(__file__).resolve().parents[2]
MIS = ROOT / "problems" / "mis"


def load_mis_module(name: str):
    return import_by_path(MIS / f"{name}.py", f"beam_problem_mis_{name}")


def csr(num_nodes: int, edges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays of a hand-written undirected graph."""
    return load_mis_module("instances").csr_from_edges(num_nodes, np.array(edges, dtype=np.int64).reshape(-1, 2))


def cycle(n: int) -> tuple[np.ndarray, np.ndarray]:
    return csr(n, [(i, (i + 1) % n) for i in range(n)])


def is_maximal_independent(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> bool:
    """Independent, and every vertex outside has a neighbour inside (checked edge by edge, without HeuBase)."""
    mask = np.asarray(mask, dtype=bool)
    for v in range(len(indptr) - 1):
        nbrs = indices[indptr[v]:indptr[v + 1]]
        if mask[v] and mask[nbrs].any():
            return False
        if not mask[v] and not mask[nbrs].any():
            return False
    return True
