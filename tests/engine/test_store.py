"""Tests of beam/store.py on real SQLite files."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from beam.store import SCHEMA_VERSION, RunStore, StoreError, source_hash, text_hash

ROOT = Path(__file__).resolve().parents[2]
SRC = "def solve(x):\n    return x + 1\n"


@pytest.fixture
def store(tmp_path: Path):
    with RunStore(tmp_path) as s:
        yield s


def _program(store: RunStore, i: int, generation: int = 0) -> int:
    return store.add_program(f"def f():\n    return {i}\n", "realised", "initial", generation)[0]


# ------------------------------------------------------------------ opening


def test_creates_run_db_in_wal_mode_with_schema(tmp_path: Path) -> None:
    with RunStore(tmp_path) as s:
        assert s.path == tmp_path / "run.db"
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s.schema_version() == SCHEMA_VERSION
        assert s.integrity_check() == "ok"
    with RunStore(tmp_path / "run.db") as again:  # reopening migrates nothing and keeps the version
        assert again.schema_version() == SCHEMA_VERSION


def test_durable_uses_synchronous_full(tmp_path: Path) -> None:
    with RunStore(tmp_path, durable=True) as s:
        assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with RunStore(tmp_path) as s:
        assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        RunStore(tmp_path / "no" / "such" / "run.db")
    with pytest.raises(StoreError, match="does not exist"):
        RunStore(tmp_path / "missing_run_dir")


def test_non_sqlite_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "run.db").write_bytes(b"this is not a database at all, just text\n" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        RunStore(tmp_path)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE stuff (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a BEAM run database"):
        RunStore(tmp_path / "other.db")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    RunStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "run.db")
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this code"):
        RunStore(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories anyway")
def test_read_only_directory_is_a_clear_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "ro"
    run_dir.mkdir()
    run_dir.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="not writable"):
            RunStore(run_dir)
    finally:
        run_dir.chmod(0o755)


# ------------------------------------------------------------------ run key/values and events


def test_run_values_round_trip_and_overwrite(store: RunStore) -> None:
    assert store.get_run("seed") is None
    assert store.get_run("seed", 7) == 7
    store.set_run("seed", 42)
    store.set_run("config", {"population": 8, "problem": "eplb", "ratios": [0.5, 1.5]})
    store.set_run("seed", 43)
    assert store.get_run("seed") == 43
    assert store.get_run("config")["ratios"] == [0.5, 1.5]
    assert store.run_items() == {"config": {"population": 8, "problem": "eplb", "ratios": [0.5, 1.5]},
                                 "seed": 43}


def test_run_values_accept_numpy(store: RunStore) -> None:
    np = pytest.importorskip("numpy")
    state = np.random.default_rng(1).bit_generator.state
    store.set_run("rng", {"state": state, "x": np.float32(0.5), "a": np.arange(3)})
    got = store.get_run("rng")
    assert got["state"] == state and got["x"] == 0.5 and got["a"] == [0, 1, 2]


def test_event_log(store: RunStore) -> None:
    store.log_event("generation_started", {"generation": 0})
    store.log_event("budget", {"cost": 0.25})
    store.log_event("generation_finished", {"generation": 0, "best": 0.9})
    assert [e["kind"] for e in store.events()] == ["generation_started", "budget", "generation_finished"]
    (budget,) = store.events("budget")
    assert budget["detail"] == {"cost": 0.25} and budget["created"] > 0


# ------------------------------------------------------------------ programs


def test_program_round_trip(store: RunStore) -> None:
    pid, new = store.add_program(SRC, "skeleton", "initial", 0, [], {"note": "seed"})
    assert new
    child, _ = store.add_program(SRC.replace("1", "2"), "realised", "crossover", 1, [pid], {"t": 0.1})
    row = store.get_program(child)
    assert row is not None
    assert (row["source"], row["kind"], row["role"], row["generation"]) == (SRC.replace("1", "2"), "realised",
                                                                            "crossover", 1)
    assert row["parents"] == [pid] and row["meta"] == {"t": 0.1}
    assert row["hash"] == source_hash(row["source"])
    assert store.program_by_hash(source_hash(SRC))["id"] == pid
    assert store.get_program(999) is None and store.program_by_hash("0" * 64) is None
    assert [p["id"] for p in store.programs()] == [pid, child]
    assert [p["id"] for p in store.programs(kind="skeleton")] == [pid]
    assert [p["id"] for p in store.programs(generation=1)] == [child]
    assert [p["id"] for p in store.programs(role="crossover", kind="realised")] == [child]
    assert store.programs(kind="calibrated") == []


def test_identical_programs_are_stored_once(store: RunStore) -> None:
    first, new1 = store.add_program(SRC, "realised", "initial", 0)
    # same code up to line endings, trailing spaces and blank lines at the ends
    second, new2 = store.add_program("\n\r\n" + SRC.replace("\n", "   \r\n") + "\n\n", "realised", "mutation", 3)
    assert (second, new1, new2) == (first, True, False)
    assert len(store.programs()) == 1
    assert store.get_program(first)["role"] == "initial"  # the first version is kept
    other, new3 = store.add_program(SRC.replace("x + 1", "x + 2"), "realised", "mutation", 3)
    assert new3 and other != first


def test_program_parent_ids_must_be_ints(store: RunStore) -> None:
    with pytest.raises((TypeError, ValueError)):
        store.add_program(SRC, "realised", "initial", 0, ["not an id"])


# ------------------------------------------------------------------ evaluations


def test_evaluation_round_trip_and_metrics(store: RunStore) -> None:
    pid = _program(store, 1)
    result = {"valid": True, "fitness": 0.75, "error": None, "error_kind": None,
              "metrics": {"balancedness_gpu": 0.8}, "time_s": 0.01}
    eid = store.record_evaluation(pid, "validation", result, duration_s=1.5)
    got = store.evaluation(pid, "validation")
    assert got is not None and got["id"] == eid
    assert got["valid"] is True and got["fitness"] == 0.75 and got["duration_s"] == 1.5
    assert got["metrics"] == {"balancedness_gpu": 0.8, "time_s": 0.01}
    assert store.evaluation(pid, "test") is None
    assert [e["id"] for e in store.evaluations(program_id=pid)] == [eid]


def test_failed_evaluation_keeps_error(store: RunStore) -> None:
    pid = _program(store, 1)
    store.record_evaluation(pid, "train", {"valid": False, "fitness": None, "error": "boom",
                                           "error_kind": "runtime"}, 0.2)
    got = store.evaluation(pid, "train")
    assert got["valid"] is False and got["fitness"] is None
    assert (got["error"], got["error_kind"]) == ("boom", "runtime")


def test_evaluation_is_not_overwritten(store: RunStore) -> None:
    pid = _program(store, 1)
    first = store.record_evaluation(pid, "validation", {"valid": True, "fitness": 0.5}, 1.0)
    again = store.record_evaluation(pid, "validation", {"valid": True, "fitness": 0.99}, 2.0)
    assert again == first
    got = store.evaluation(pid, "validation")
    assert got["fitness"] == 0.5 and got["duration_s"] == 1.0
    other = store.record_evaluation(pid, "test", {"valid": True, "fitness": 0.4}, 1.0)
    assert other != first


def test_evaluation_of_unknown_program_is_refused(store: RunStore) -> None:
    with pytest.raises(StoreError):
        store.record_evaluation(12345, "validation", {"valid": True, "fitness": 1.0})
    assert store.evaluations() == []


def test_best_orders_and_excludes_invalid(store: RunStore) -> None:
    ids = [_program(store, i) for i in range(6)]
    results = [(True, 0.3), (False, 0.99), (True, 0.8), (True, None), (True, 0.8), (True, float("nan"))]
    for pid, (valid, fitness) in zip(ids, results):
        store.record_evaluation(pid, "validation", {"valid": valid, "fitness": fitness})
    store.record_evaluation(ids[0], "test", {"valid": True, "fitness": 5.0})
    assert store.best() == [(ids[2], 0.8)]
    assert store.best(n=10) == [(ids[2], 0.8), (ids[4], 0.8), (ids[0], 0.3)]  # ties: first evaluated first
    assert store.best("test", n=3) == [(ids[0], 5.0)]
    assert store.best("train") == []


# ------------------------------------------------------------------ generator calls


def test_reply_cache(store: RunStore) -> None:
    prompt = "Write func_1."
    h = text_hash(prompt)
    assert store.cached_reply(h, "m1") is None
    store.record_call("fill_one", prompt, "first", "m1", prompt_tokens=10, completion_tokens=5)
    store.record_call("fill_one", prompt, None, "m1", error="HTTP 500")
    store.record_call("fill_one", prompt, "second", "m1")
    store.record_call("fill_one", prompt, "other model", "m2")
    store.record_call("fill_one", prompt, "partial", "m1", error="timeout")
    assert store.cached_reply(h, "m1") == "second"
    assert store.cached_replies(h, "m1") == ["first", "second"]
    assert store.cached_reply(h, "m2") == "other model"
    assert store.cached_reply(text_hash("another prompt"), "m1") is None
    # an explicit hash (e.g. prompt + temperature + sample index) is used as given
    store.record_call("fix", prompt, "keyed", "m1", prompt_hash="custom-key")
    assert store.cached_reply("custom-key", "m1") == "keyed"


def test_call_round_trip_and_link(store: RunStore) -> None:
    cid = store.record_call("crossover", "p", "r", "m", prompt_tokens=3, completion_tokens=4, cost=0.01,
                            latency_s=0.5)
    pid = _program(store, 1)
    store.set_call_program(cid, pid)
    (call,) = store.calls("crossover")
    assert call["program_id"] == pid and call["prompt_hash"] == text_hash("p") and call["latency_s"] == 0.5
    assert store.calls("mutation") == []
    with pytest.raises(StoreError):
        store.record_call("fix", "p", "r", "m", program_id=999)


def test_usage_totals(store: RunStore) -> None:
    assert store.usage_totals() == {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0,
                                    "latency_s": 0.0, "errors": 0}
    store.record_call("mutation", "a", "r", "m", prompt_tokens=100, completion_tokens=50, cost=0.5, latency_s=1.0)
    store.record_call("mutation", "b", None, "m", prompt_tokens=20, error="rate limited", latency_s=0.5)
    store.record_call("fix", "c", "r", "m", prompt_tokens=1, completion_tokens=2, cost=0.25, latency_s=2.0)
    assert store.usage_totals() == {"calls": 3, "prompt_tokens": 121, "completion_tokens": 52, "cost": 0.75,
                                    "latency_s": 3.5, "errors": 1}
    assert store.usage_totals("mutation")["calls"] == 2


# ------------------------------------------------------------------ memory


def _entry(name: str, score: float, **extra) -> dict:
    return {"name": name, "source": f"def {name}():\n    pass\n", "description": f"{name} does it",
            "signature": f"{name}() -> None", "score": score, "fitness": score / 2, "usage": 2, "age": 1,
            "ema_improvement": 0.1, "last_used_generation": 3, "program_id": None, **extra}


def test_memory_save_load_replaces_everything(store: RunStore) -> None:
    assert store.load_memory() == []
    store.save_memory([_entry("lpt_place", 0.9), _entry("greedy_swap", 0.7, origin="composer")])
    loaded = store.load_memory()
    assert [e["name"] for e in loaded] == ["lpt_place", "greedy_swap"]
    assert loaded[0]["score"] == 0.9 and loaded[0]["usage"] == 2 and loaded[0]["last_used_generation"] == 3
    assert loaded[1]["meta"] == {"origin": "composer"}
    store.save_memory([_entry("greedy_swap", 0.75)])
    assert [(e["name"], e["score"]) for e in store.load_memory()] == [("greedy_swap", 0.75)]
    store.save_memory([])
    assert store.load_memory() == []


def test_memory_save_is_atomic(store: RunStore) -> None:
    store.save_memory([_entry("keep_me", 0.5)])
    with pytest.raises(StoreError):  # duplicate names: the whole replacement is rolled back
        store.save_memory([_entry("a", 0.1), _entry("a", 0.2)])
    assert [e["name"] for e in store.load_memory()] == ["keep_me"]
    with pytest.raises(StoreError, match="name"):
        store.save_memory([{"source": "x"}])
    assert [e["name"] for e in store.load_memory()] == ["keep_me"]


def test_memory_events(store: RunStore) -> None:
    pid = _program(store, 1)
    store.record_memory_event(1, "insert", "lpt_place", pid, 0.9, {"why": "new best"})
    store.record_memory_event(2, "use", "lpt_place")
    store.record_memory_event(2, "evict", "old_fn", score=0.1)
    events = store.memory_events()
    assert [(e["generation"], e["event"], e["function_name"]) for e in events] == [
        (1, "insert", "lpt_place"), (2, "use", "lpt_place"), (2, "evict", "old_fn")]
    assert events[0]["program_id"] == pid and events[0]["detail"] == {"why": "new best"}
    assert len(store.memory_events(generation=2)) == 2
    assert len(store.memory_events(function_name="lpt_place")) == 2
    with pytest.raises(StoreError, match="unknown memory event"):
        store.record_memory_event(2, "explode", "f")


# ------------------------------------------------------------------ population and resume


def test_population_resume(tmp_path: Path) -> None:
    with RunStore(tmp_path) as s:
        assert s.last_population() is None
        ids = [_program(s, i) for i in range(5)]
        s.save_population(0, [ids[3], ids[1], ids[0]])
        s.save_population(1, [ids[4], ids[3]])
        s.save_population(1, [ids[2], ids[4], ids[3]])  # a redone generation replaces the old one
    with RunStore(tmp_path) as s:
        assert s.last_population() == (1, [ids[2], ids[4], ids[3]])
        assert s.population(0) == [ids[3], ids[1], ids[0]]
        assert s.population(7) == []


def test_population_save_is_atomic(store: RunStore) -> None:
    ids = [_program(store, i) for i in range(3)]
    store.save_population(0, ids)
    with pytest.raises(StoreError):
        store.save_population(1, [ids[0], 999])  # unknown program: nothing of generation 1 is kept
    with pytest.raises(StoreError):
        store.save_population(0, [ids[1], ids[1]])  # duplicate: generation 0 stays as it was
    with pytest.raises(StoreError, match="empty"):
        store.save_population(2, [])
    assert store.last_population() == (0, ids)


def test_data_survives_reopen(tmp_path: Path) -> None:
    with RunStore(tmp_path) as s:
        pid = _program(s, 1)
        s.record_evaluation(pid, "validation", {"valid": True, "fitness": 0.6})
        s.set_run("status", "running")
    with RunStore(tmp_path) as s:
        assert s.best() == [(pid, 0.6)] and s.get_run("status") == "running"
        assert s.integrity_check() == "ok"


# ------------------------------------------------------------------ crash safety

CHILD = textwrap.dedent("""
    import sys
    from beam.store import RunStore

    store = RunStore(sys.argv[1])
    for i in range(1_000_000):
        pid, _ = store.add_program(f"def f():\\n    return {i}\\n", "realised", "initial", i // 10, [], {"i": i})
        store.record_evaluation(pid, "validation", {"valid": True, "fitness": float(i), "n": i}, 0.0)
        store.log_event("progress", {"i": i})
        print(pid, flush=True)
""")


def test_sigkill_loses_nothing_committed(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, env=env)
    reported: list[int] = []
    deadline = time.monotonic() + 30
    try:
        assert child.stdout is not None
        while len(reported) < 200 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported.append(int(line))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        reported += [int(line) for line in child.stdout.read().split()]  # lines flushed before the kill
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, "the child finished or failed before it was killed"
    assert len(reported) >= 200
    assert (tmp_path / "run.db-wal").exists()  # killed before any clean close
    with RunStore(tmp_path) as s:
        assert s.integrity_check() == "ok"
        stored = {p["id"]: p for p in s.programs()}
        for pid in reported:
            assert pid in stored
            evaluation = s.evaluation(pid, "validation")
            assert evaluation is not None and evaluation["metrics"]["n"] == stored[pid]["meta"]["i"]
        assert len(s.events("progress")) >= len(reported)
