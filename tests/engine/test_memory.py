"""Tests for beam/memory.py: Eq. 5-6, Algorithm 3, similarity, function extraction and persistence."""
from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from beam.catalog import catalog
from beam.memory import (AdaptiveMemory, Candidate, MemoryConfig, MemoryEntry, MemoryEvent, code_tokens,
                         default_name, extract_candidates, function_module, similarity)
from beam.program import Program, ProgramError
from beam.store import MEMORY_EVENTS, RunStore

ROOT = Path(__file__).resolve().parents[2]
HIER = (ROOT / "problems" / "eplb" / "skeletons" / "hier_pack_refine.py").read_text(encoding="utf-8")

PACK = ("from heubase.eplb.pack import pack_lpt\n\n\n"
        "def func_1(item_load, num_packs):\n    return pack_lpt(item_load, num_packs)\n")
REFINE = '''import time

from heubase.eplb.refine import swap_max_min


def _rounds_left(rounds, deadline):
    return rounds if time.perf_counter() < deadline else 0


def func_2(item_load, pack_of_item, num_packs, rounds, deadline):
    return swap_max_min(item_load, pack_of_item, num_packs,
                        rounds=max(1, int(_rounds_left(rounds, deadline) * REFINE_SHARE)))
'''
SNAKE = ("from heubase.eplb.pack import pack_snake\n\n\n"
         "def func_1(item_load, num_packs):\n    return pack_snake(item_load, num_packs)\n")


def realised(func_1: str = PACK, func_2: str = REFINE) -> str:
    return str(Program.parse(HIER).with_functions({"func_1": func_1, "func_2": func_2}))


# ------------------------------------------------------------------ controlled similarity
# Toy functions return a one-letter tag; SIMS says how similar two tags are.

SIMS = {frozenset("AB"): 0.8, frozenset("AC"): 0.4, frozenset("AD"): 0.9, frozenset("AE"): 0.85}


def tag_of(function: str) -> str:
    ret = next(n for n in ast.walk(ast.parse(function)) if isinstance(n, ast.Return))
    return ret.value.value


def fake_similarity(a: str, b: str) -> float:
    x, y = tag_of(a), tag_of(b)
    return 1.0 if x == y else SIMS.get(frozenset((x, y)), 0.0)


def toy(tag: str, fitness: float, pid: int | None = None) -> Candidate:
    function = f"def func_1(x):\n    return {tag!r}\n"
    program = f"#Hyperparameter#\nMAX_TIME = 0.05\n#Hyperparameter#\n\n\n{function}"
    return Candidate(function, "func_1", program, fitness, pid, purpose=f"tag {tag}")


def by_tag(candidate: Candidate) -> str:
    return "f" + tag_of(candidate.function).lower()


def toy_entry(tag: str, fitness: float, **fields) -> MemoryEntry:
    name = "f" + tag.lower()
    function = f"def {name}(x):\n    return {tag!r}\n"
    return MemoryEntry(name=name, source=function, function=function, fitness=fitness, **fields)


def memory(*entries: MemoryEntry, **config) -> AdaptiveMemory:
    return AdaptiveMemory(MemoryConfig(**config), entries, similarity=fake_similarity)


# ------------------------------------------------------------------ config


def test_config_defaults_and_from_dict() -> None:
    c = MemoryConfig()
    assert (c.capacity, c.tau, c.delta_th, c.a1, c.a2, c.a3, c.a4) == (8, 0.85, 0.02, 1.0, 0.3, 0.2, 0.1)
    assert (c.lambda_, c.ema_beta, c.t_idle, c.epsilon, c.top_elites) == (0.7, 0.5, 3, 0.05, 3)
    assert MemoryConfig.from_dict({"capacity": 4, "lambda": 0.5}) == MemoryConfig(capacity=4, lambda_=0.5)
    assert MemoryConfig.from_dict(None) == c
    with pytest.raises(ValueError, match="unknown memory setting.*bogus.*cmax"):
        MemoryConfig.from_dict({"cmax": 3, "bogus": 1, "tau": 0.9})
    for bad in ({"capacity": 0}, {"capacity": 2.5}, {"tau": 1.5}, {"t_idle": True}, {"a1": float("nan")}):
        with pytest.raises(ValueError):
            MemoryConfig.from_dict(bad)


def test_event_names_are_the_store_s() -> None:
    assert {"insert", "replace", "discard", "evict", "prune", "use"} <= MEMORY_EVENTS
    with pytest.raises(ValueError):
        MemoryEvent("forget", "f")


# ------------------------------------------------------------------ Eq. 5 and 6


def test_eq5_score_on_hand_worked_pool() -> None:
    mem = AdaptiveMemory()
    pool = [(0.9, 0.2, 4, 2), (0.5, 1.0, 0, 0), (0.7, 0.6, 2, 4)]
    # normalised (fit, nov, use, age): A (1, 0, 1, .5), B (0, 1, 0, 0), C (.5, .5, .5, 1)
    # S = 1.0 fit + 0.3 nov + 0.2 use - 0.1 age
    assert mem.score(*pool[0], pool=pool) == pytest.approx(1.0 + 0.0 + 0.2 - 0.05)   # 1.15
    assert mem.score(*pool[1], pool=pool) == pytest.approx(0.0 + 0.3 + 0.0 - 0.0)    # 0.30
    assert mem.score(*pool[2], pool=pool) == pytest.approx(0.5 + 0.15 + 0.1 - 0.1)   # 0.65
    # a feature without spread normalises to 0; the scored value always joins the pool
    assert mem.score(0.9, 1.0, 3, 7, pool=[(0.9, 1.0, 3, 7)]) == 0.0
    assert mem.score(1.0, 0.0, 0, 0, pool=[(0.0, 0.0, 0, 0)]) == pytest.approx(1.0)


def test_eq5_eq6_on_memory_entries() -> None:
    mem = memory(toy_entry("A", 0.9, usage=4, age=2, ema_improvement=0.02),
                 toy_entry("B", 0.5, usage=0, age=0, ema_improvement=0.0),
                 toy_entry("C", 0.7, usage=2, age=4, ema_improvement=0.01))
    # novelty = 1 - max sim to the others: A 1-0.8 = .2, B 1-0.8 = .2, C 1-0.4 = .6 -> normalised 0, 0, 1
    # S_A = 1 + 0 + 0.2*1 - 0.1*0.5 = 1.15; S_B = 0; S_C = 0.5 + 0.3 + 0.1 - 0.1 = 0.8
    # EMA normalised: A 1, B 0, C 0.5;  U* = 0.7 S + 0.3 ema
    assert mem.utility("fa") == pytest.approx(0.7 * 1.15 + 0.3 * 1.0)   # 1.105
    assert mem.utility("fb") == pytest.approx(0.0)
    assert mem.utility(mem.get("fc")) == pytest.approx(0.7 * 0.8 + 0.3 * 0.5)   # 0.71
    with pytest.raises(KeyError):
        mem.utility("nope")


# ------------------------------------------------------------------ Algorithm 3


def test_insert_into_empty_memory_builds_module() -> None:
    mem = memory()
    events = mem.update([toy("A", 0.5, pid=7)], generation=0, name_for=by_tag)
    assert [(e.event, e.function_name, e.program_id, e.generation) for e in events] == [("insert", "fa", 7, 0)]
    entry = mem.get("fa")
    assert entry.function == "def fa(x):\n    return 'A'\n"
    assert entry.source == entry.function        # nothing else needed: no MAX_TIME, no imports
    assert entry.signature == "def fa(x):" and entry.doc == "tag A" and entry.origin == "func_1"
    assert (entry.fitness, entry.inserted_generation, entry.usage) == (0.5, 0, 0)


def test_replace_when_similar_and_better() -> None:
    mem = memory(toy_entry("A", 0.5, inserted_generation=0))
    events = mem.update([toy("D", 0.9)], generation=1, name_for=by_tag)
    # pool: A (fit .5, nov 1, use 0, age 1), D (fit .9, nov 1-0.9, use 0, age 0)
    # S_A = 0 + 0.3*1 - 0.1*1 = 0.2; S_D = 1.0 > 0.2 + 0.02 -> replace
    assert [(e.event, e.function_name) for e in events] == [("replace", "fd")]
    assert events[0].detail["replaced"] == "fa" and events[0].detail["similarity"] == 0.9
    assert events[0].score == pytest.approx(1.0) and events[0].detail["replaced_score"] == pytest.approx(0.2)
    assert [e.name for e in mem.entries()] == ["fd"]


def test_discard_when_similar_and_not_better() -> None:
    mem = memory(toy_entry("A", 0.5, inserted_generation=0))
    events = mem.update([toy("D", 0.4, pid=3)], generation=1, name_for=by_tag)
    # S_A = 1 (fit) + 0.3 (nov) - 0.1 (age) = 1.2; S_D = 0 -> discard
    assert [(e.event, e.function_name) for e in events] == [("discard", "func_1@3")]
    assert events[0].detail["similar_to"] == "fa" and events[0].detail["needed"] == pytest.approx(1.22)
    assert [e.name for e in mem.entries()] == ["fa"]


def test_similarity_at_tau_is_not_high() -> None:
    mem = memory(toy_entry("A", 0.5))
    events = mem.update([toy("E", 0.1)], generation=0, name_for=by_tag)   # sim(A, E) = 0.85 = tau
    assert [e.event for e in events] == ["insert"]
    assert sorted(e.name for e in mem.entries()) == ["fa", "fe"]


def test_identical_candidate_with_equal_fitness_is_discarded() -> None:
    mem = memory()
    mem.update([toy("A", 0.5)], generation=0, name_for=by_tag)
    events = mem.update([toy("A", 0.5)], generation=0, name_for=by_tag)
    assert [e.event for e in events] == ["discard"] and events[0].detail["similarity"] == 1.0
    assert len(mem) == 1


def test_identical_but_better_keeps_name_doc_and_usage() -> None:
    mem = memory()
    mem.update([toy("A", 0.5)], generation=0, name_for=by_tag)
    mem.rename("fa", "tag_a", "Return the tag A.")
    mem.record_use(["tag_a"], 0.1, generation=1)
    events = mem.update([toy("A", 0.9, pid=2)], generation=2, name_for=by_tag)
    assert [(e.event, e.function_name) for e in events] == [("replace", "tag_a")]
    entry = mem.get("tag_a")
    assert (entry.fitness, entry.program_id, entry.usage, entry.inserted_generation) == (0.9, 2, 1, 2)
    assert entry.doc == "Return the tag A." and '"""Return the tag A."""' in entry.source


def test_duplicate_candidates_in_one_update() -> None:
    mem = memory()
    events = mem.update([toy("A", 0.5), toy("A", 0.8)], generation=0, name_for=by_tag)
    # best first: A@0.8 is inserted, A@0.5 (novelty 0, lower fitness) is discarded
    assert [e.event for e in events] == ["insert", "discard"]
    assert mem.get("fa").fitness == 0.8


def test_name_clash_gets_suffix() -> None:
    mem = memory()
    mem.update([toy("A", 0.5), toy("C", 0.4)], generation=0, name_for=lambda c: "same")
    assert sorted(e.name for e in mem.entries()) == ["same", "same_2"]
    mem.update([toy("B", 0.1)], generation=0, name_for=lambda c: "func_7")    # unusable: default name
    assert default_name(toy("B", 0.1)) in mem


def test_capacity_evicts_smallest_utility() -> None:
    mem = memory(capacity=2)
    events = mem.update([toy("F", 0.9), toy("G", 0.5), toy("H", 0.7)], generation=0, name_for=by_tag)
    # all novel, unused, new: S = fitness normalised (1, 0, .5) -> U* = 0.7 S; evict G
    assert [(e.event, e.function_name) for e in events] == [("insert", "ff"), ("insert", "fh"), ("insert", "fg"),
                                                             ("evict", "fg")]
    assert events[-1].detail["utility"] == pytest.approx(0.0)
    assert [e.name for e in mem.entries()] == ["ff", "fh"]


def test_eviction_ties_go_by_name() -> None:
    mem = memory(capacity=1)
    events = mem.update([toy("G", 0.5), toy("F", 0.5)], generation=0, name_for=by_tag)
    assert [(e.event, e.function_name) for e in events][-1] == ("evict", "ff")
    assert [e.name for e in mem.entries()] == ["fg"]


def test_idle_low_utility_entries_are_pruned() -> None:
    def fresh() -> AdaptiveMemory:
        return memory(toy_entry("F", 0.3, inserted_generation=0),
                      toy_entry("G", 0.8, inserted_generation=0, usage=1, last_used_generation=2,
                                ema_improvement=0.05))

    # F: fitness, usage and EMA all lowest -> S = 0 and U* = 0 < epsilon
    mem = fresh()
    assert mem.update([], generation=2) == []          # idle 2 < t_idle
    mem = fresh()
    events = mem.update([], generation=3)              # idle 3 -> pruned; G was used at 2 -> kept
    assert [(e.event, e.function_name, e.detail["idle"]) for e in events] == [("prune", "ff", 3)]
    assert [e.name for e in mem.entries()] == ["fg"]
    assert mem.get("fg").age == 3


def test_update_is_deterministic_and_order_free() -> None:
    candidates = [c for source, fit, pid in [(realised(), 0.9, 1), (realised(SNAKE), 0.8, 2)]
                  for c in extract_candidates([(source, fit, pid)], 1)]
    candidates += [toy("F", 0.7, 3), toy("G", 0.7, 4)]
    runs = []
    for seed in range(3):
        shuffled = candidates[:]
        random.Random(seed).shuffle(shuffled)
        mem = AdaptiveMemory(MemoryConfig(capacity=2))
        events = mem.update(shuffled, generation=1)
        assert {e.event for e in events} == {"insert", "discard", "evict"}
        runs.append((json.dumps([e.to_record() for e in events], sort_keys=True), mem.to_rows()))
    assert runs[0] == runs[1] == runs[2]


def test_non_finite_candidate_is_discarded() -> None:
    events = memory().update([toy("A", float("nan"))], generation=0)
    assert [(e.event, e.detail["reason"]) for e in events] == [("discard", "fitness is not finite")]


# ------------------------------------------------------------------ use, rename, listing


def test_record_use_updates_usage_and_ema() -> None:
    mem = memory(toy_entry("A", 0.5))
    mem.record_use(["fa", "fa", "ghost"], 0.04, generation=2)    # ema = 0.5*0 + 0.5*0.04
    events = mem.record_use(["fa"], -0.1, generation=3)          # a loss counts as 0: ema = 0.5*0.02
    entry = mem.get("fa")
    assert (entry.usage, entry.last_used_generation) == (2, 3)
    assert entry.ema_improvement == pytest.approx(0.01)
    assert [(e.event, e.function_name, e.generation) for e in events] == [("use", "fa", 3)]


def test_rename_sets_docstring_and_catalog_sees_it(tmp_path: Path) -> None:
    mem = AdaptiveMemory()
    mem.update(extract_candidates([(realised(), 0.9, None)], 1), generation=0,
               name_for=lambda c: {"func_1": "tmp_pack", "func_2": "tmp_refine"}[c.origin])
    doc = "Refine a packing by max-min swaps.\n\n    Args:\n        item_load: loads [B, n]\n"
    entry = mem.rename("tmp_refine", "refine_max_min", doc)
    assert entry.signature == "def refine_max_min(item_load, pack_of_item, num_packs, rounds, deadline):"
    assert entry.doc.startswith("Refine a packing") and "tmp_refine" not in entry.source
    assert ast.get_docstring(ast.parse(entry.function).body[0]) == entry.doc
    with pytest.raises(ValueError):
        mem.rename("refine_max_min", "tmp_pack")
    with pytest.raises(ProgramError):
        mem.rename("tmp_pack", "func_3")
    package = mem.write_package(tmp_path)
    found = {c.name: c for c in catalog(package, "memory")}
    assert found["refine_max_min"].doc == entry.doc
    assert found["refine_max_min"].module == "memory.refine_max_min"
    assert [item["name"] for item in mem.listing()] == [e.name for e in mem.entries()]
    assert mem.listing()[0].keys() == {"name", "module", "signature", "doc"}


# ------------------------------------------------------------------ similarity


def test_similarity_ignores_names_constants_comments_and_layout() -> None:
    a = '''def func_2(item_load, num_packs, rounds=8):
    """Greedy."""
    order = item_load.argsort(dim=1, descending=True)  # heaviest first
    best = order[:, :num_packs] * 2
    for step in range(rounds):
        best = best + step
    return best
'''
    b = '''def keep(w, n, r=3):
    order_x = w.argsort(dim=1, descending=True)

    top = order_x[:, : n] * 5
    for k in range(r):
        top = top + k
    return top
'''
    assert similarity(a, b) == 1.0 and code_tokens(a) == code_tokens(b)
    c = a.replace("descending=True", "stable=True")          # keyword names count
    assert 0.8 < similarity(a, c) < 1.0
    assert similarity(a, c) == similarity(c, a)


def test_similarity_keeps_called_functions_and_separates_algorithms() -> None:
    import inspect

    from heubase.eplb import pack, refine
    assert similarity(PACK, SNAKE) < 1.0                    # same shape, different library call
    sources = [inspect.getsource(f) for f in (pack.pack_lpt, pack.pack_karmarkar_karp,
                                               refine.swap_max_min, refine.swap_all_pairs)]
    for i, x in enumerate(sources):
        for y in sources[i + 1:]:
            assert 0.0 <= similarity(x, y) < 0.5
    assert similarity(sources[0], "") == 0.0


def test_code_tokens_without_a_parse_still_work() -> None:
    assert code_tokens("def f(:\n  return") != ()


# ------------------------------------------------------------------ extraction


def test_extract_candidates_from_realised_skeletons() -> None:
    best, second = realised(), realised(SNAKE)
    elites = [(second, 0.8, 2), (best, 0.9, 1), (HIER, float("nan"), 3)]
    top1 = extract_candidates(elites, 1)
    assert [(c.origin, c.program_id, c.fitness) for c in top1] == [("func_1", 1, 0.9), ("func_2", 1, 0.9)]
    assert top1[0].function.startswith("def func_1(") and top1[0].program == best
    assert top1[0].purpose == ""              # a realisation replaces the "# Purpose:" stub
    top2 = extract_candidates(elites, 2)      # func_2 is the same in both: kept once, from the better
    assert [(c.origin, c.program_id) for c in top2] == [("func_1", 1), ("func_2", 1), ("func_1", 2)]
    assert extract_candidates([(HIER, 1.0, 5)], 3) == []      # nothing realised
    assert extract_candidates([("not python(", 1.0, 5)], 3) == []


def test_function_module_takes_exactly_what_is_needed() -> None:
    source = function_module(realised(), "func_2", "refine_budgeted")
    tree = ast.parse(source)
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == ["import time", "from heubase.eplb.refine import swap_max_min"]
    assigned = [n.targets[0].id for n in tree.body if isinstance(n, ast.Assign)]
    assert assigned == ["REFINE_SHARE"] and "REFINE_SHARE = 0.7" in source   # calibrated value copied
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["_rounds_left", "refine_budgeted"]
    assert "#Hyperparameter#" not in source and "func_2" not in source and "torch" not in source


def test_function_module_renames_recursion_and_checks_result() -> None:
    program = textwrap.dedent('''\
        import math
        from heubase.eplb.pack import pack_lpt as lpt, pack_snake
        LIMIT = 3


        def func_1(n):
            return n if n < LIMIT else func_1(n - 1) + math.floor(0.5)


        def func_2(x):
            return undefined_thing(x)
        ''')
    source = function_module(program, "func_1", "countdown")
    assert "func_1" not in source and "countdown(n - 1)" in source and "pack" not in source
    namespace: dict = {}
    exec(compile(source, "m", "exec"), namespace)
    assert namespace["countdown"](5) == 2
    with pytest.raises(ProgramError, match="undefined_thing"):
        function_module(program, "func_2", "broken")
    with pytest.raises(ProgramError, match="no module-level function"):
        function_module(program, "func_9", "other")
    with pytest.raises(ProgramError):
        function_module(program, "func_1", "math")       # would clash with the import
    with pytest.raises(ProgramError):
        function_module(program, "func_1", "2bad")


def test_memory_imports_are_inlined_into_new_entries() -> None:
    mem = AdaptiveMemory()
    mem.update(extract_candidates([(realised(), 0.9, None)], 1), generation=0,
               name_for=lambda c: {"func_1": "pack_base", "func_2": "refine_base"}[c.origin])
    uses = ("from memory.pack_base import pack_base\n\n\n"
            "def func_1(item_load, num_packs):\n    return pack_base(item_load, num_packs).flip(0).flip(0)\n")
    events = mem.update(extract_candidates([(realised(uses), 0.95, None)], 1), generation=1,
                        name_for=lambda c: "pack_wrapped")
    assert ("insert", "pack_wrapped") in [(e.event, e.function_name) for e in events]
    source = mem.get("pack_wrapped").source
    assert "memory" not in source and "from heubase.eplb.pack import pack_lpt" in source


def test_default_name_is_stable() -> None:
    candidate = toy("A", 1.0)
    assert default_name(candidate) == default_name(toy("A", 0.2)) and default_name(candidate).startswith("mem_")


# ------------------------------------------------------------------ package and store


def test_write_package_is_importable(tmp_path: Path) -> None:
    mem = AdaptiveMemory()
    mem.update(extract_candidates([(realised(), 0.9, None)], 1), generation=0,
               name_for=lambda c: {"func_1": "pack_lpt_rows", "func_2": "refine_swaps"}[c.origin])
    package = mem.write_package(tmp_path)
    (package / "stale_one.py").write_text("x = 1\n")
    mem.write_package(tmp_path)
    assert sorted(p.name for p in package.glob("*.py")) == ["__init__.py", "pack_lpt_rows.py", "refine_swaps.py"]
    script = textwrap.dedent('''\
        import sys, time, torch
        sys.path[:0] = [sys.argv[1], sys.argv[2]]
        from memory.pack_lpt_rows import pack_lpt_rows
        from memory import refine_swaps
        w = torch.tensor([[5.0, 4.0, 3.0, 3.0, 2.0, 1.0]], dtype=torch.float64)
        pack = pack_lpt_rows(w, 2)
        better = refine_swaps(w, pack, 2, 8, time.perf_counter() + 1.0)
        print(sorted(torch.bincount(better[0], minlength=2).tolist()), better.shape[1])
        ''')
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(ROOT)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[3,", "3]", "6"]


def test_round_trip_through_run_store(tmp_path: Path) -> None:
    mem = AdaptiveMemory(MemoryConfig(capacity=4))
    with RunStore(tmp_path) as store:
        best, second = realised(), realised(SNAKE)
        ids = [store.add_program(s, "realised", "child", 0)[0] for s in (best, second)]
        events = mem.update(extract_candidates([(best, 0.9, ids[0]), (second, 0.8, ids[1])], 2), generation=1)
        events += mem.record_use([mem.entries()[0].name], 0.03, generation=1)
        mem.get(mem.entries()[0].name).meta["note"] = "kept"
        for event in events:
            store.record_memory_event(**event.to_record())
        store.save_memory(mem.to_rows())
        rows = store.load_memory()
        logged = store.memory_events()
    back = AdaptiveMemory.from_rows(rows, MemoryConfig(capacity=4))
    assert back.entries() == mem.entries()
    assert [r["name"] for r in rows] == [e.name for e in mem.entries()]
    assert [(r["event"], r["function_name"]) for r in logged] == [(e.event, e.function_name) for e in events]
    assert {e.program_id for e in mem.entries()} <= set(ids)
