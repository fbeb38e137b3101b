"""A small TSPLIB reader: symmetric TSP files (``.tsp``) and tours (``.opt.tour``).

Supported ``EDGE_WEIGHT_TYPE``: EUC_2D, CEIL_2D, ATT, GEO (coordinates in
NODE_COORD_SECTION, distances rounded as TSPLIB95 defines them) and EXPLICIT
with ``EDGE_WEIGHT_FORMAT`` FULL_MATRIX, UPPER_ROW, LOWER_ROW, UPPER_DIAG_ROW or
LOWER_DIAG_ROW. Every malformed file raises :class:`TsplibError` with one line
naming the file and the problem.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

COORD_TYPES = ("EUC_2D", "CEIL_2D", "ATT", "GEO")
FORMATS = ("FULL_MATRIX", "UPPER_ROW", "LOWER_ROW", "UPPER_DIAG_ROW", "LOWER_DIAG_ROW")


class TsplibError(ValueError):
    """A TSPLIB file is malformed or uses a feature this reader does not support."""


def _nint(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5)


def coordinate_distances(xy: np.ndarray, kind: str) -> np.ndarray:
    """TSPLIB distance matrix of ``xy [n, 2]`` for ``kind`` in EUC_2D, CEIL_2D, ATT, GEO (integers as float64)."""
    dx = xy[:, None, 0] - xy[None, :, 0]
    dy = xy[:, None, 1] - xy[None, :, 1]
    if kind == "EUC_2D":
        return _nint(np.sqrt(dx * dx + dy * dy))
    if kind == "CEIL_2D":
        return np.ceil(np.sqrt(dx * dx + dy * dy))
    if kind == "ATT":
        r = np.sqrt((dx * dx + dy * dy) / 10.0)
        t = _nint(r)
        return np.where(t < r, t + 1.0, t)
    if kind == "GEO":
        deg = np.trunc(xy)
        rad = math.pi * (deg + 5.0 * (xy - deg) / 3.0) / 180.0
        lat, lon = rad[:, 0], rad[:, 1]
        q1 = np.cos(lon[:, None] - lon[None, :])
        q2 = np.cos(lat[:, None] - lat[None, :])
        q3 = np.cos(lat[:, None] + lat[None, :])
        d = np.trunc(6378.388 * np.arccos(np.clip(0.5 * ((1 + q1) * q2 - (1 - q1) * q3), -1, 1)) + 1.0)
        np.fill_diagonal(d, 0.0)
        return d
    raise TsplibError(f"unsupported EDGE_WEIGHT_TYPE {kind}")


def _explicit(values: list[float], n: int, fmt: str, path: Path) -> np.ndarray:
    d = np.zeros((n, n))
    if fmt == "FULL_MATRIX":
        need = n * n
    elif fmt in ("UPPER_ROW", "LOWER_ROW"):
        need = n * (n - 1) // 2
    else:
        need = n * (n + 1) // 2
    if len(values) < need:
        raise TsplibError(f"{path}: EDGE_WEIGHT_SECTION has {len(values)} numbers, {fmt} of {n} cities needs {need}")
    v = np.asarray(values[:need], dtype=np.float64)
    if fmt == "FULL_MATRIX":
        d = v.reshape(n, n)
        return np.minimum(d, d.T) if not np.allclose(d, d.T) else d
    if fmt == "UPPER_ROW":
        rows, cols = np.triu_indices(n, 1)
    elif fmt == "LOWER_ROW":
        rows, cols = np.tril_indices(n, -1)
    elif fmt == "UPPER_DIAG_ROW":
        rows, cols = np.triu_indices(n, 0)
    else:
        rows, cols = np.tril_indices(n, 0)
    d[rows, cols] = v
    d[cols, rows] = v
    return d


def _sections(path: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TsplibError(f"{path}: cannot read: {exc}") from None
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for raw in lines:
        line = raw.strip()
        if not line or line == "EOF":
            if line == "EOF":
                break
            continue
        key = line.split(":", 1)[0].strip().upper() if ":" in line else line.split()[0].upper()
        if key.endswith("_SECTION"):
            current = key
            sections[current] = []
        elif ":" in line and not line[0].isdigit() and not line[0] == "-":
            header[key] = line.split(":", 1)[1].strip()
            current = None
        elif current is not None:
            sections[current].append(line)
        else:
            raise TsplibError(f"{path}: unexpected line {line[:60]!r} outside any section")
    return header, sections


def read_tsp(path: Path) -> tuple[str, np.ndarray]:
    """``(name, distance [n, n])`` of a symmetric TSPLIB ``.tsp`` file."""
    path = Path(path)
    header, sections = _sections(path)
    if header.get("TYPE", "TSP").split()[0].upper() != "TSP":
        raise TsplibError(f"{path}: TYPE is {header.get('TYPE')!r}; only symmetric TSP files are supported")
    try:
        n = int(header["DIMENSION"])
    except (KeyError, ValueError):
        raise TsplibError(f"{path}: missing or non-integer DIMENSION") from None
    if n < 3:
        raise TsplibError(f"{path}: DIMENSION {n} is too small (at least 3 cities)")
    kind = header.get("EDGE_WEIGHT_TYPE", "").upper()
    name = header.get("NAME", path.stem)
    try:
        if kind in COORD_TYPES:
            rows = [line.split() for line in sections.get("NODE_COORD_SECTION", [])]
            if len(rows) != n or any(len(r) < 3 for r in rows):
                raise TsplibError(f"{path}: NODE_COORD_SECTION must have {n} lines 'id x y', found {len(rows)}")
            xy = np.array([[float(r[1]), float(r[2])] for r in rows])
            if not np.isfinite(xy).all():
                raise TsplibError(f"{path}: NODE_COORD_SECTION has non-finite coordinates")
            return name, coordinate_distances(xy, kind)
        if kind == "EXPLICIT":
            fmt = header.get("EDGE_WEIGHT_FORMAT", "").upper()
            if fmt not in FORMATS:
                raise TsplibError(f"{path}: EDGE_WEIGHT_FORMAT {fmt or '(missing)'} is not one of {', '.join(FORMATS)}")
            values = [float(x) for line in sections.get("EDGE_WEIGHT_SECTION", []) for x in line.split()]
            return name, _explicit(values, n, fmt, path)
    except ValueError as exc:
        if isinstance(exc, TsplibError):
            raise
        raise TsplibError(f"{path}: a number could not be read: {exc}") from None
    raise TsplibError(f"{path}: EDGE_WEIGHT_TYPE {kind or '(missing)'} is not supported "
                      f"(use {', '.join(COORD_TYPES)} or EXPLICIT)")


def read_tour(path: Path, n: int) -> np.ndarray:
    """The tour of a TSPLIB ``.tour`` file (TOUR_SECTION, 1-based, ended by -1) as ``tour [n]`` (0-based)."""
    path = Path(path)
    _, sections = _sections(path)
    try:
        ids = [int(x) for line in sections.get("TOUR_SECTION", []) for x in line.split()]
    except ValueError:
        raise TsplibError(f"{path}: TOUR_SECTION must hold integers") from None
    if -1 in ids:
        ids = ids[:ids.index(-1)]
    tour = np.asarray(ids, dtype=np.int64) - 1
    if len(tour) != n or sorted(tour.tolist()) != list(range(n)):
        raise TsplibError(f"{path}: TOUR_SECTION is not a permutation of the {n} cities")
    return tour
