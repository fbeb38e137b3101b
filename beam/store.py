"""The run database: one SQLite file, ``<run_dir>/run.db``, holding everything a run did.

Every program, evaluation, generator call, memory change and population is
written as it happens, each write in its own short committed transaction, so
a killed run resumes from here and loses nothing that was committed.

Durability. The file uses write-ahead logging with ``synchronous=NORMAL``: a
commit has been written to the WAL (the OS page cache) before it returns, so
a killed process (SIGKILL, OOM) loses nothing committed; only an OS crash or
power cut can roll back the last few commits, and the file stays consistent
even then. Pass ``durable=True`` for ``synchronous=FULL`` (an fsync per
commit) when that matters more than speed.

Threads. One connection, created with sqlite3's default
``check_same_thread=True``: the engine's asyncio loop owns the store in one
thread; do not hand it to worker threads (``asyncio.to_thread``). Other
processes (``beam report``) may read the file while a run writes it.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as run_dir, RunStore(run_dir) as store:
...     pid, new = store.add_program("def f():\\n    return 1\\n", "realised", "initial", 0)
...     _ = store.record_evaluation(pid, "validation", {"valid": True, "fitness": 0.9})
...     store.best()
[(1, 0.9)]
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DB_NAME = "run.db"
MEMORY_EVENTS = frozenset({"insert", "replace", "discard", "evict", "prune", "use", "rename"})
_RESULT_KEYS = ("valid", "fitness", "error", "error_kind")
_MEMORY_COLUMNS = ("name", "source", "description", "signature", "score", "fitness", "usage", "age",
                   "ema_improvement", "last_used_generation", "program_id", "meta")

_SCHEMA_V1 = """
CREATE TABLE run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE program (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    generation INTEGER NOT NULL,
    parents TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX program_kind ON program(kind, generation);
CREATE INDEX program_generation ON program(generation);
CREATE TABLE evaluation (
    id INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL REFERENCES program(id),
    split TEXT NOT NULL,
    valid INTEGER NOT NULL,
    fitness REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    error_kind TEXT,
    duration_s REAL NOT NULL,
    created REAL NOT NULL,
    UNIQUE (program_id, split)
);
CREATE INDEX evaluation_best ON evaluation(split, valid, fitness);
CREATE TABLE generator_call (
    id INTEGER PRIMARY KEY,
    operation TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reply TEXT,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    latency_s REAL NOT NULL DEFAULT 0,
    error TEXT,
    program_id INTEGER REFERENCES program(id),
    created REAL NOT NULL
);
CREATE INDEX generator_call_prompt ON generator_call(prompt_hash, model);
CREATE TABLE memory_event (
    id INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL,
    event TEXT NOT NULL,
    function_name TEXT NOT NULL,
    program_id INTEGER REFERENCES program(id),
    score REAL,
    detail TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX memory_event_generation ON memory_event(generation);
CREATE TABLE memory_entry (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    signature TEXT NOT NULL DEFAULT '',
    score REAL,
    fitness REAL,
    usage INTEGER NOT NULL DEFAULT 0,
    age INTEGER NOT NULL DEFAULT 0,
    ema_improvement REAL NOT NULL DEFAULT 0,
    last_used_generation INTEGER,
    program_id INTEGER REFERENCES program(id),
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE population (
    generation INTEGER NOT NULL,
    program_id INTEGER NOT NULL REFERENCES program(id),
    rank INTEGER NOT NULL,
    PRIMARY KEY (generation, program_id)
);
CREATE TABLE event (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL);
CREATE INDEX event_kind ON event(kind);
"""

# Tables added later without a version bump (CREATE ... IF NOT EXISTS on every open): older files gain them.
_ADDITIVE_TABLES = (
    "CREATE TABLE IF NOT EXISTS selection_state (generation INTEGER PRIMARY KEY, partial INTEGER NOT NULL, "
    "state TEXT NOT NULL, created REAL NOT NULL)",
)

# MIGRATIONS[i] takes a database from version i to version i + 1. Append, never edit.
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(RuntimeError):
    """The run database cannot be opened, is not ours, or refused a write."""


def normalize_source(source: str) -> str:
    """Source with unified newlines, no trailing spaces and no blank lines at either end."""
    lines = [line.rstrip() for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def source_hash(source: str) -> str:
    """sha256 (hex) of the normalized source: two programs with the same hash are one."""
    return hashlib.sha256(normalize_source(source).encode()).hexdigest()


def text_hash(text: str) -> str:
    """sha256 (hex) of a text as it is, e.g. a rendered prompt."""
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays (anything with ``tolist``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain)


def _real(value: Any) -> float | None:
    """A float for a REAL column; NaN becomes None (SQLite would store NULL anyway)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _db_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path if path.is_file() or path.suffix == ".db" else path / DB_NAME


class RunStore:
    """The SQLite database of one run.

    ``path`` is the run directory (the file is ``path/run.db``), or an existing file,
    or a path ending in ``.db``. The directory must exist and be writable.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False) -> None:
        self.path = _db_path(path)
        folder = self.path.parent
        if not folder.is_dir():
            raise StoreError(f"run directory {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(f"run directory {folder} is not writable (SQLite needs to create run.db-wal there)")
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise StoreError(f"{self.path} is not readable and writable")
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        try:
            self.conn.row_factory = sqlite3.Row
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL journal (got {mode!r})")
            self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            for statement in _ADDITIVE_TABLES:
                self.conn.execute(statement)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(f"{self.path} is not a usable SQLite database: {exc}") from None
        except StoreError:
            self.conn.close()
            raise

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed on exit, rolled back on error."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: write failed: {exc}") from exc

    def _migrate(self) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "schema_version" not in tables:
            raise StoreError(f"{self.path} is a SQLite database but not a BEAM run database")
        version = 0
        if "schema_version" in tables:
            row = self.conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}, newer than this code's "
                             f"{SCHEMA_VERSION}; upgrade BEAM to open it")
        while version < SCHEMA_VERSION:
            with self._tx() as conn:
                if version == 0:
                    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version += 1
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def schema_version(self) -> int:
        """The schema version stored in the file."""
        return self.conn.execute("SELECT version FROM schema_version").fetchone()[0]

    def close(self) -> None:
        """Close the connection (a WAL checkpoint folds the log into the main file)."""
        self.conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a healthy file, else the problems found."""
        return "\n".join(r[0] for r in self.conn.execute("PRAGMA integrity_check"))

    # ----------------------------------------------------------------- run key/values

    def set_run(self, key: str, value: Any) -> None:
        """Set one run-level value (config, seed, status, RNG state...), any JSON."""
        with self._tx() as conn:
            conn.execute("INSERT INTO run (key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, _dumps(value)))

    def get_run(self, key: str, default: Any = None) -> Any:
        """A run-level value, or ``default`` when never set."""
        row = self.conn.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def run_items(self) -> dict[str, Any]:
        """All run-level values."""
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("SELECT key, value FROM run ORDER BY key")}

    # ----------------------------------------------------------------- programs

    def add_program(self, source: str, kind: str, role: str, generation: int,
                    parents: Sequence[int] = (), meta: dict[str, Any] | None = None) -> tuple[int, bool]:
        """Store a program unless one with the same normalized source exists: ``(id, is_new)``."""
        digest = source_hash(source)
        with self._tx() as conn:
            row = conn.execute("SELECT id FROM program WHERE hash = ?", (digest,)).fetchone()
            if row is not None:
                return row[0], False
            cur = conn.execute(
                "INSERT INTO program (hash, source, kind, role, generation, parents, meta, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (digest, source, kind, role, int(generation), _dumps([int(p) for p in parents]),
                 _dumps(meta or {}), time.time()))
            return int(cur.lastrowid), True

    @staticmethod
    def _program(row: sqlite3.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        out = dict(row)
        out["parents"], out["meta"] = json.loads(out["parents"]), json.loads(out["meta"])
        return out

    def get_program(self, program_id: int) -> dict[str, Any] | None:
        """The program row as a dict (parents and meta decoded), or None."""
        return self._program(self.conn.execute("SELECT * FROM program WHERE id = ?", (program_id,)).fetchone())

    def program_by_hash(self, digest: str) -> dict[str, Any] | None:
        """The program whose :func:`source_hash` is ``digest``, or None."""
        return self._program(self.conn.execute("SELECT * FROM program WHERE hash = ?", (digest,)).fetchone())

    def programs(self, kind: str | None = None, generation: int | None = None,
                 role: str | None = None) -> list[dict[str, Any]]:
        """Programs in insertion order, optionally filtered by kind, generation and role."""
        where, args = self._filters(kind=kind, generation=generation, role=role)
        rows = self.conn.execute(f"SELECT * FROM program{where} ORDER BY id", args)
        return [self._program(r) for r in rows]  # type: ignore[misc]

    @staticmethod
    def _filters(**conditions: Any) -> tuple[str, list[Any]]:
        used = {k: v for k, v in conditions.items() if v is not None}
        where = " WHERE " + " AND ".join(f"{k} = ?" for k in used) if used else ""
        return where, list(used.values())

    # ----------------------------------------------------------------- evaluations

    def record_evaluation(self, program_id: int, split: str, result: dict[str, Any],
                          duration_s: float = 0.0) -> int:
        """Store the result of evaluating a program on a split; returns the evaluation id.

        ``result`` holds ``valid``, ``fitness``, ``error``, ``error_kind``; a ``metrics``
        dict and every other key go to the metrics JSON. A (program, split) pair is
        evaluated once: a second call returns the existing id and overwrites nothing.
        """
        metrics = dict(result.get("metrics") or {})
        metrics.update({k: v for k, v in result.items() if k not in _RESULT_KEYS and k != "metrics"})
        with self._tx() as conn:
            row = conn.execute("SELECT id FROM evaluation WHERE program_id = ? AND split = ?",
                               (program_id, split)).fetchone()
            if row is not None:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO evaluation (program_id, split, valid, fitness, metrics, error, error_kind, "
                "duration_s, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (program_id, split, int(bool(result.get("valid"))), _real(result.get("fitness")),
                 _dumps(metrics), result.get("error"), result.get("error_kind"), float(duration_s), time.time()))
            return int(cur.lastrowid)

    @staticmethod
    def _evaluation(row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        out["valid"], out["metrics"] = bool(out["valid"]), json.loads(out["metrics"])
        return out

    def evaluation(self, program_id: int, split: str) -> dict[str, Any] | None:
        """The stored evaluation of a program on a split, or None (then evaluate it)."""
        row = self.conn.execute("SELECT * FROM evaluation WHERE program_id = ? AND split = ?",
                                (program_id, split)).fetchone()
        return None if row is None else self._evaluation(row)

    def evaluations(self, program_id: int | None = None, split: str | None = None) -> list[dict[str, Any]]:
        """Evaluations in insertion order, optionally for one program and/or split."""
        where, args = self._filters(program_id=program_id, split=split)
        return [self._evaluation(r) for r in self.conn.execute(f"SELECT * FROM evaluation{where} ORDER BY id", args)]

    def best(self, split: str = "validation", n: int = 1) -> list[tuple[int, float]]:
        """The ``n`` highest-fitness valid programs on ``split``: ``[(program_id, fitness)]``.

        Ties go to the program evaluated first.
        """
        rows = self.conn.execute(
            "SELECT program_id, fitness FROM evaluation WHERE split = ? AND valid = 1 AND fitness IS NOT NULL "
            "ORDER BY fitness DESC, id ASC LIMIT ?", (split, int(n)))
        return [(int(r[0]), float(r[1])) for r in rows]

    # ----------------------------------------------------------------- generator calls

    def record_call(self, operation: str, prompt: str, reply: str | None, model: str, *,
                    prompt_tokens: int = 0, completion_tokens: int = 0, cost: float = 0.0,
                    latency_s: float = 0.0, error: str | None = None, program_id: int | None = None,
                    prompt_hash: str | None = None) -> int:
        """Log one generator call; ``prompt_hash`` defaults to :func:`text_hash` of the prompt."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO generator_call (operation, prompt_hash, prompt, reply, model, prompt_tokens, "
                "completion_tokens, cost, latency_s, error, program_id, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (operation, prompt_hash or text_hash(prompt), prompt, reply, model, int(prompt_tokens),
                 int(completion_tokens), float(cost), float(latency_s), error, program_id, time.time()))
            return int(cur.lastrowid)

    def set_call_program(self, call_id: int, program_id: int) -> None:
        """Link a logged call to the program its reply became."""
        with self._tx() as conn:
            conn.execute("UPDATE generator_call SET program_id = ? WHERE id = ?", (program_id, call_id))

    def cached_replies(self, prompt_hash: str, model: str) -> list[str]:
        """Every successful reply to this prompt from this model, oldest first."""
        rows = self.conn.execute(
            "SELECT reply FROM generator_call WHERE prompt_hash = ? AND model = ? AND error IS NULL "
            "AND reply IS NOT NULL ORDER BY id", (prompt_hash, model))
        return [r[0] for r in rows]

    def cached_reply(self, prompt_hash: str, model: str) -> str | None:
        """The latest successful reply to this prompt from this model, or None."""
        row = self.conn.execute(
            "SELECT reply FROM generator_call WHERE prompt_hash = ? AND model = ? AND error IS NULL "
            "AND reply IS NOT NULL ORDER BY id DESC LIMIT 1", (prompt_hash, model)).fetchone()
        return None if row is None else row[0]

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        """Logged generator calls in order, optionally of one operation."""
        where, args = self._filters(operation=operation)
        return [dict(r) for r in self.conn.execute(f"SELECT * FROM generator_call{where} ORDER BY id", args)]

    def usage_totals(self, operation: str | None = None) -> dict[str, Any]:
        """Totals over calls: ``calls, prompt_tokens, completion_tokens, cost, latency_s, errors``."""
        where, args = self._filters(operation=operation)
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
            "COALESCE(SUM(cost), 0.0), COALESCE(SUM(latency_s), 0.0), COUNT(error) "
            f"FROM generator_call{where}", args).fetchone()
        keys = ("calls", "prompt_tokens", "completion_tokens", "cost", "latency_s", "errors")
        return dict(zip(keys, tuple(row)))

    # ----------------------------------------------------------------- adaptive memory

    def record_memory_event(self, generation: int, event: str, function_name: str,
                            program_id: int | None = None, score: float | None = None,
                            detail: dict[str, Any] | None = None) -> int:
        """Log one memory change; ``event`` is one of :data:`MEMORY_EVENTS`."""
        if event not in MEMORY_EVENTS:
            raise StoreError(f"unknown memory event {event!r}; expected one of {sorted(MEMORY_EVENTS)}")
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO memory_event (generation, event, function_name, program_id, score, detail, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(generation), event, function_name, program_id, _real(score), _dumps(detail or {}), time.time()))
            return int(cur.lastrowid)

    def memory_events(self, generation: int | None = None, function_name: str | None = None) -> list[dict[str, Any]]:
        """Logged memory changes in order."""
        where, args = self._filters(generation=generation, function_name=function_name)
        out = [dict(r) for r in self.conn.execute(f"SELECT * FROM memory_event{where} ORDER BY id", args)]
        for item in out:
            item["detail"] = json.loads(item["detail"])
        return out

    def save_memory(self, entries: Sequence[dict[str, Any]]) -> None:
        """Replace the whole memory with ``entries`` in one transaction.

        Each entry needs ``name`` and ``source``; keys that are not columns are kept in ``meta``.
        """
        rows = []
        for entry in entries:
            if "name" not in entry or "source" not in entry:
                raise StoreError(f"memory entry needs 'name' and 'source': {sorted(entry)}")
            meta = dict(entry.get("meta") or {})
            meta.update({k: v for k, v in entry.items() if k not in _MEMORY_COLUMNS})
            rows.append((entry["name"], entry["source"], entry.get("description") or "",
                         entry.get("signature") or "", _real(entry.get("score")), _real(entry.get("fitness")),
                         int(entry.get("usage") or 0), int(entry.get("age") or 0),
                         _real(entry.get("ema_improvement")) or 0.0, entry.get("last_used_generation"),
                         entry.get("program_id"), _dumps(meta)))
        with self._tx() as conn:
            conn.execute("DELETE FROM memory_entry")
            conn.executemany(f"INSERT INTO memory_entry ({', '.join(_MEMORY_COLUMNS)}) "
                             f"VALUES ({', '.join('?' * len(_MEMORY_COLUMNS))})", rows)

    def load_memory(self) -> list[dict[str, Any]]:
        """The saved memory entries, in the order they were saved."""
        out = [dict(r) for r in self.conn.execute("SELECT * FROM memory_entry ORDER BY rowid")]
        for item in out:
            item["meta"] = json.loads(item["meta"])
        return out

    # ----------------------------------------------------------------- population

    def save_population(self, generation: int, ranked_program_ids: Sequence[int]) -> None:
        """Store the population after selection (best first); replaces that generation atomically."""
        if not ranked_program_ids:
            raise StoreError(f"population of generation {generation} is empty")
        with self._tx() as conn:
            conn.execute("DELETE FROM population WHERE generation = ?", (int(generation),))
            conn.executemany("INSERT INTO population (generation, program_id, rank) VALUES (?, ?, ?)",
                             [(int(generation), int(pid), rank) for rank, pid in enumerate(ranked_program_ids)])

    def population(self, generation: int) -> list[int]:
        """Program ids of a generation's population, best first (empty when not saved)."""
        rows = self.conn.execute("SELECT program_id FROM population WHERE generation = ? ORDER BY rank",
                                 (int(generation),))
        return [int(r[0]) for r in rows]

    def last_population(self) -> tuple[int, list[int]] | None:
        """``(generation, ids best first)`` of the last saved generation, or None: where to resume."""
        row = self.conn.execute("SELECT MAX(generation) FROM population").fetchone()
        return None if row[0] is None else (int(row[0]), self.population(row[0]))

    # ----------------------------------------------------------------- selection state (islands)

    def save_selection_state(self, generation: int, state: dict[str, Any], partial: bool = False) -> None:
        """Store the exterior's islands and cluster statistics after ``generation`` (``partial``: cut by the budget)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO selection_state (generation, partial, state, created) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(generation) DO UPDATE SET partial = excluded.partial, state = excluded.state, "
                         "created = excluded.created", (int(generation), int(partial), _dumps(state), time.time()))

    def selection_state(self, generation: int) -> dict[str, Any] | None:
        """``{"generation", "partial", "state"}`` stored for a generation, or None."""
        row = self.conn.execute("SELECT generation, partial, state FROM selection_state WHERE generation = ?",
                                (int(generation),)).fetchone()
        return None if row is None else {"generation": int(row[0]), "partial": bool(row[1]),
                                         "state": json.loads(row[2])}

    def selection_states(self) -> list[dict[str, Any]]:
        """Every stored selection state, by generation."""
        rows = self.conn.execute("SELECT generation FROM selection_state ORDER BY generation").fetchall()
        return [self.selection_state(int(r[0])) for r in rows]  # type: ignore[misc]

    # ----------------------------------------------------------------- progress log

    def log_event(self, kind: str, detail: dict[str, Any] | None = None) -> int:
        """Append to the progress log (generation started/finished, budget updates...)."""
        with self._tx() as conn:
            cur = conn.execute("INSERT INTO event (kind, detail, created) VALUES (?, ?, ?)",
                               (kind, _dumps(detail or {}), time.time()))
            return int(cur.lastrowid)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The progress log in order, optionally of one kind."""
        where, args = self._filters(kind=kind)
        out = [dict(r) for r in self.conn.execute(f"SELECT * FROM event{where} ORDER BY id", args)]
        for item in out:
            item["detail"] = json.loads(item["detail"])
        return out
