"""Tests for beam/program.py: the libcst model of a skeleton (parse, edit, analyse, inline)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from beam.program import Hyperparameter, ImportRef, Program, ProgramError

ROOT = Path(__file__).resolve().parents[2]
SKELETONS = sorted((ROOT / "problems" / "eplb" / "skeletons").glob("*.py"))
ENTRY = "rebalance_experts"
CLUSTER = (288, 8, 4, 32)  # num_replicas, num_groups, num_nodes, num_gpus

# Simple correct realisations of the shipped skeletons' placeholders.
REALISATIONS = {
    "hedge_spread_pack": {
        "func_1": "def func_1(weight, smoothing, floor):\n    return weight\n",
        "func_2": "from heubase.eplb.pack import pack_lpt\n\n\n"
                  "def func_2(item_load, item_expert, num_packs, deadline):\n"
                  "    return pack_lpt(item_load, num_packs)\n",
    },
    "hier_pack_refine": {  # a function-level import, hoisted by inline_imports
        "func_1": "def func_1(item_load, num_packs):\n"
                  "    from heubase.eplb.pack import pack_lpt\n"
                  "    return pack_lpt(item_load, num_packs)\n",
        "func_2": "def func_2(item_load, pack_of_item, num_packs, rounds, deadline):\n    return pack_of_item\n",
    },
    "hier_replicate_pack": {
        "func_1": "from heubase.eplb.replicate import replicate_greedy\n\n\n"
                  "def func_1(weight, num_slots, num_bins, hot_fraction):\n"
                  "    return replicate_greedy(weight, num_slots)\n",
        "func_2": "from heubase.eplb.pack import pack_lpt\n\n\n"
                  "def func_2(item_load, num_packs, deadline):\n    return pack_lpt(item_load, num_packs)\n",
    },
    "multistart_select": {
        "func_1": "from heubase.eplb.pack import pack_snake\n\n\n"
                  "def func_1(item_load, num_packs, num_starts, deadline):\n"
                  "    return [pack_snake(item_load, num_packs)]\n",
    },
}
REALISED = [name for name in REALISATIONS if (ROOT / "problems" / "eplb" / "skeletons" / f"{name}.py").exists()]

HAND = '''"""Hand-made skeleton: func_2 calls func_1."""
import torch

#Hyperparameter#
MAX_TIME = 0.05
ROUNDS = 4  # int
SCALE = -1.5
#Hyperparameter#


def func_1(x):
    # Purpose: first piece,
    # over two lines.
    pass


def func_2(x):
    # Purpose: second piece, built on func_1.
    return func_1(x) + 1


def func_3(x):
    """Third piece."""
    pass


def func_4(x):
    # Purpose: never called.
    pass


def solve(x):
    y = func_3(x)
    return func_2(y) * ROUNDS
'''


def skeleton(name: str) -> Program:
    return Program.parse((ROOT / "problems" / "eplb" / "skeletons" / f"{name}.py").read_text())


def outside(program: Program, name: str) -> tuple[str, str]:
    start, end = program.function_span(name)
    return program.source[:start], program.source[end:]


def run_plan(program: Program, weight: torch.Tensor):
    namespace: dict = {"__name__": "solver"}
    exec(compile(program.source, "solver", "exec"), namespace)
    return namespace[ENTRY](weight.clone(), *CLUSTER)


def check_plan(plan, weight: torch.Tensor) -> None:
    phy2log, log2phy, logcnt = plan
    layers, experts = weight.shape
    assert phy2log.shape == (layers, CLUSTER[0]) and phy2log.dtype == torch.int64
    assert int(phy2log.min()) >= 0 and int(phy2log.max()) < experts
    assert bool((logcnt >= 1).all()) and bool((logcnt.sum(1) == CLUSTER[0]).all())
    for layer in range(layers):
        for expert in range(experts):
            slots = [s for s in log2phy[layer, expert].tolist() if s >= 0]
            assert len(slots) == int(logcnt[layer, expert])
            assert all(int(phy2log[layer, s]) == expert for s in slots)


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("path", SKELETONS, ids=[p.stem for p in SKELETONS])
def test_round_trip_is_byte_identical(path):
    text = path.read_text()
    program = Program.parse(text)
    assert str(program) == text and program.source == text
    assert program == Program.parse(text)


def test_placeholders_of_a_skeleton():
    program = skeleton("hier_pack_refine")
    places = program.placeholders()
    assert [(p.index, p.name, p.realised) for p in places] == [(1, "func_1", False), (2, "func_2", False)]
    assert program.unrealised() == places
    first, second = places
    assert first.signature == "def func_1(item_load: torch.Tensor, num_packs: int) -> torch.Tensor:"
    assert first.params == ("item_load", "num_packs")
    assert second.params == ("item_load", "pack_of_item", "num_packs", "rounds", "deadline")
    assert first.purpose.startswith("pack each row of item_load [B, n]")
    assert "holding exactly n // num_packs items each" in first.purpose
    assert first.purpose.endswith("with values in [0, num_packs).")
    assert "Purpose" not in second.purpose and "#" not in second.purpose
    for p in places:  # the stub of an unrealised placeholder is its source
        assert program.placeholder_stub(p) == program.function_source(p.name) == str(p)
    assert program.functions() == ["func_1", "func_2", ENTRY]


def test_placeholders_on_a_hand_made_skeleton():
    program = Program.parse(HAND)
    places = {p.index: p for p in program.placeholders()}
    assert sorted(places) == [1, 2, 3, 4]
    assert places[1].purpose == "first piece, over two lines."
    assert places[1].purpose_lines == ("# Purpose: first piece,", "# over two lines.")
    assert not places[1].realised and places[2].realised
    assert not places[3].realised and places[3].purpose == ""  # docstring + pass is unrealised
    assert [p.index for p in program.unrealised()] == [1, 3, 4]


def test_syntax_error_names_the_line():
    with pytest.raises(ProgramError, match=r"syntax error at line 3"):
        Program.parse("import torch\n\ndef broken(:\n    pass\n")


# ----------------------------------------------------------------------------- hyperparameters


def test_hyperparameters_read():
    hyper = Program.parse(HAND).hyperparameters()
    assert list(hyper) == ["MAX_TIME", "ROUNDS", "SCALE"]
    assert hyper["ROUNDS"] == Hyperparameter("ROUNDS", 4, True)
    assert hyper["SCALE"] == Hyperparameter("SCALE", -1.5, False)
    assert skeleton("hier_pack_refine").hyperparameters()["REFINE_ROUNDS"].is_int


def test_hyperparameters_write():
    program = Program.parse(HAND)
    edited = program.with_hyperparameters({"ROUNDS": 6.6, "SCALE": 2})
    assert edited.hyperparameters()["ROUNDS"] == Hyperparameter("ROUNDS", 7, True)
    assert edited.hyperparameters()["SCALE"] == Hyperparameter("SCALE", 2.0, False)
    assert "ROUNDS = 7  # int\n" in edited.source and "SCALE = 2.0\n" in edited.source
    negative = program.with_hyperparameters({"SCALE": -0.25, "ROUNDS": 3})
    assert negative.hyperparameters()["SCALE"].value == -0.25 and "ROUNDS = 3  # int" in negative.source
    # only the edited lines change
    changed = [(a, b) for a, b in zip(program.source.splitlines(), edited.source.splitlines()) if a != b]
    assert changed == [("ROUNDS = 4  # int", "ROUNDS = 7  # int"), ("SCALE = -1.5", "SCALE = 2.0")]
    assert program.with_hyperparameters({}).source == program.source


def test_hyperparameter_errors():
    program = Program.parse(HAND)
    with pytest.raises(ProgramError, match="unknown hyperparameter.*NOPE"):
        program.with_hyperparameters({"NOPE": 1})
    with pytest.raises(ProgramError, match="MAX_TIME"):
        program.with_hyperparameters({"MAX_TIME": 1.0})
    assert program.with_hyperparameters({"MAX_TIME": 0.05}).source == program.source
    allowed = program.with_hyperparameters({"MAX_TIME": 0.2}, allow_max_time=True)
    assert allowed.hyperparameters()["MAX_TIME"].value == 0.2
    with pytest.raises(ProgramError, match="not finite"):
        program.with_hyperparameters({"SCALE": float("inf")})
    with pytest.raises(ProgramError, match="not a number"):
        program.with_hyperparameters({"ROUNDS": "3"})


@pytest.mark.parametrize("text, message", [
    (HAND.replace("#Hyperparameter#\n", ""), "no hyperparameter block"),
    (HAND.replace("#Hyperparameter#\n", "", 1), "unbalanced hyperparameter block: found 1"),
    (HAND.replace("SCALE = -1.5\n", "SCALE = -1.5\n#Hyperparameter#\n"), "unbalanced hyperparameter block: found 3"),
    (HAND.replace("SCALE = -1.5", "SCALE = 'big'"), r"line 7: \"SCALE = 'big'\" is not"),
    (HAND.replace("SCALE = -1.5", "SCALE = ROUNDS * 2"), "is not 'NAME = <int or float literal>'"),
    (HAND.replace("MAX_TIME = 0.05", "LIMIT = 0.05"), "must define MAX_TIME"),
    (HAND.replace("    return func_1(x) + 1", "    #Hyperparameter#\n    return func_1(x) + 1"),
     "at module level"),
])
def test_malformed_hyperparameter_blocks(text, message):
    with pytest.raises(ProgramError, match=message):
        Program.parse(text)


# ----------------------------------------------------------------------------- editing functions


@pytest.mark.parametrize("name", REALISED)
def test_replacing_a_body_keeps_every_other_byte(name):
    program = skeleton(name)
    signature = program.placeholders()[0].signature
    new = program.with_function("func_1", f"{signature}\n    raise NotImplementedError('x')\n")
    assert outside(new, "func_1") == outside(program, "func_1")
    assert new.function_source("func_1").endswith("raise NotImplementedError('x')\n")
    assert new.placeholders()[0].realised and new.placeholders()[0].signature == signature
    # putting the stub back restores the skeleton exactly
    assert new.with_function("func_1", program.placeholder_stub(program.placeholders()[0])) == program


def test_replacement_with_helpers_and_imports():
    program = skeleton("hier_pack_refine")
    reply = '''
        import torch
        import numpy as np
        from heubase.eplb.pack import pack_lpt

        SPREAD = 2


        def _order(item_load):
            return np.argsort(item_load.numpy(), axis=1)


        # this comment is dropped
        def func_1(item_load, num_packs: int) -> torch.Tensor:
            """Pack by LPT."""
            return pack_lpt(item_load, num_packs)


        if __name__ == "__main__":
            print("demo")
    '''
    new = program.with_function("func_1", reply)
    imports = new.imports()
    assert imports.count(ImportRef("torch")) == 1
    assert ImportRef("numpy", None, "np") in imports
    assert ImportRef("heubase.eplb.pack", "pack_lpt") in new.heubase_imports()
    assert new.functions() == ["_order", "func_1", "func_2", ENTRY]
    assert "SPREAD = 2" in new.source and "__main__" not in new.source and "dropped" not in new.source
    assert new.source.index("import numpy as np") < new.source.index("#Hyperparameter#")
    assert new.hyperparameters() == program.hyperparameters()
    # a second realisation replaces the helper in place instead of adding a copy
    again = new.with_function("func_1", "def _order(item_load):\n    return None\n\n\n"
                                        "def func_1(item_load, num_packs):\n    return _order(item_load)\n")
    assert again.functions() == new.functions()
    assert again.function_source("_order") == "def _order(item_load):\n    return None\n"


@pytest.mark.parametrize("reply, message", [
    ("def func_3(item_load, num_packs):\n    return 1\n", r"defines no function 'func_1' \(found def func_3\)"),
    ("x = 1\n", "found no function definition"),
    ("def func_1(item_load, num_packs):\n    return 1\n\n\ndef func_1(item_load, num_packs):\n    return 2\n",
     "defines 'func_1' 2 times"),
    ("def func_1(item_load, num_packs:\n    return 1\n", "syntax error at line 1"),
    ("def func_1(item_load, num_packs):\n    return 1\n  x = 2\n", "syntax error at line 3"),
    ("def func_1(weights, num_packs):\n    return 1\n", r"changes the parameters.*\(weights, num_packs\)"),
    ("def func_1(item_load):\n    return 1\n", "changes the parameters"),
    ("def pack_loads(x):\n    return x\n\n\ndef func_1(item_load, num_packs):\n    return 1\n",
     "'pack_loads', which is already a module-level import"),
    ("def func_2(a):\n    return a\n\n\ndef func_1(item_load, num_packs):\n    return 1\n", "placeholder"),
    ("print('hi')\n\n\ndef func_1(item_load, num_packs):\n    return 1\n", "unsupported top-level statement"),
    ("from heubase.eplb.pack import *\n\n\ndef func_1(item_load, num_packs):\n    return 1\n", "star import"),
    ("import numpy as torch\n\n\ndef func_1(item_load, num_packs):\n    return 1\n", "already a module-level import"),
    ("REFINE_SHARE = 0.1\n\n\ndef func_1(item_load, num_packs):\n    return 1\n", "hyperparameter"),
])
def test_bad_replacements(reply, message):
    with pytest.raises(ProgramError, match=message):
        skeleton("hier_pack_refine").with_function("func_1", reply)


def test_replacing_a_missing_function():
    with pytest.raises(ProgramError, match="no module-level function 'func_9'"):
        skeleton("hier_pack_refine").with_function("func_9", "def func_9():\n    pass\n")


def test_imports_by_origin():
    extra = "import torch\nfrom memory.eplb import good_pack as gp\nfrom heubase.eplb.plan import pack_sizes\n"
    program = Program.parse(HAND.replace("import torch\n", extra))
    assert program.heubase_imports() == [ImportRef("heubase.eplb.plan", "pack_sizes")]
    assert program.memory_imports() == [ImportRef("memory.eplb", "good_pack", "gp")]
    assert program.memory_imports("mem") == []
    assert program.imports()[0] == ImportRef("torch") and program.imports()[1].bound == "gp"


# ----------------------------------------------------------------------------- analysis


def test_check_complete():
    with pytest.raises(ProgramError, match="func_1, func_2 not realised"):
        skeleton("hier_pack_refine").check_complete(ENTRY)
    hand = Program.parse(HAND)
    with pytest.raises(ProgramError, match="func_1, func_3, func_4 not realised"):
        hand.check_complete("solve")
    done = hand.with_functions({name: f"def {name}(x):\n    return x\n" for name in ("func_1", "func_3", "func_4")})
    done.check_complete("solve")
    with pytest.raises(ProgramError, match="entry function 'main' is missing"):
        done.check_complete("main")
    broken = done.with_function("func_3", "def func_3(x):\n    return helper_that_does_not_exist(x) + len(x)\n")
    with pytest.raises(ProgramError, match=r"'helper_that_does_not_exist' is not defined \(line 2[0-9]\)"):
        broken.check_complete("solve")
    for name, edits in REALISATIONS.items():
        if name in REALISED:
            skeleton(name).with_functions(edits).check_complete(ENTRY)


def test_call_graph_and_fill_order():
    program = Program.parse(HAND)
    graph = program.call_graph()
    assert set(graph.nodes) == {"func_1", "func_2", "func_3", "func_4", "solve"}
    assert set(graph.edges) == {("func_2", "func_1"), ("solve", "func_3"), ("solve", "func_2")}
    # func_3 is called first by solve, func_1 must precede its caller func_2, func_4 is unreachable
    assert program.fill_order("solve") == [3, 1, 2, 4]
    # a cycle between func_1 and func_2 is tolerated (index order inside it)
    cyclic = program.with_function("func_1", "def func_1(x):\n    return func_2(x)\n")
    assert cyclic.call_graph().has_edge("func_1", "func_2")
    assert cyclic.fill_order("solve") == [3, 1, 2, 4]
    # a dependency through a helper counts, and callbacks count as calls
    indirect = program.with_function("func_3", "def _via(x):\n    return func_4(x)\n\n\n"
                                               "def func_3(x):\n    return list(map(_via, x))\n")
    assert indirect.fill_order("solve") == [4, 3, 1, 2]
    assert skeleton("hier_pack_refine").fill_order(ENTRY) == [1, 2]
    with pytest.raises(ProgramError, match="no module-level function 'main'"):
        program.fill_order("main")


# ----------------------------------------------------------------------------- inlining

RUNNER = r'''
import importlib.util, json, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("heubase", "beam"):
            raise ModuleNotFoundError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
try:
    import heubase
except ImportError:
    pass
else:
    raise SystemExit("heubase is importable")
import torch
weight = torch.load(sys.argv[1])
results = {}
for path in sys.argv[3:]:
    spec = importlib.util.spec_from_file_location("solver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results[path] = [t.tolist() for t in module.rebalance_experts(weight.clone(), 288, 8, 4, 32)]
assert not [m for m in sys.modules if m.split(".")[0] in ("heubase", "beam")]
with open(sys.argv[2], "w") as out:
    json.dump(results, out)
'''


def test_inline_imports_gives_standalone_solvers(tmp_path):
    weight = torch.rand(8, 256, generator=torch.Generator().manual_seed(7)) * 100
    torch.save(weight, tmp_path / "weight.pt")
    expected, paths = {}, []
    allowed = {"torch", "numpy", *sys.stdlib_module_names}
    for name in REALISED:
        program = skeleton(name).with_functions(REALISATIONS[name])
        plan = run_plan(program, weight)
        check_plan(plan, weight)
        standalone = program.inline_imports()
        assert standalone.heubase_imports() == []
        assert {ref.module.split(".")[0] for ref in standalone.imports()} <= allowed
        assert standalone.hyperparameters() == program.hyperparameters()
        assert [p.name for p in standalone.placeholders()] == [p.name for p in program.placeholders()]
        standalone.check_complete(ENTRY)
        path = tmp_path / f"{name}.py"
        path.write_text(standalone.source)
        paths.append(str(path))
        expected[str(path)] = [t.tolist() for t in plan]
    (tmp_path / "runner.py").write_text(RUNNER)
    result = subprocess.run([sys.executable, "-I", str(tmp_path / "runner.py"), str(tmp_path / "weight.pt"),
                             str(tmp_path / "out.json"), *paths], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    import json
    assert json.loads((tmp_path / "out.json").read_text()) == expected


LIBRARY = {
    "heubase.fake.a": '''
        from __future__ import annotations
        import math
        from heubase.fake.b import scale as _scale, _helper as b_helper

        LIMIT = 3


        def _helper(x):
            return x + LIMIT


        def top(x):
            """Uses helpers from two modules whose names clash."""
            _helper_local = 0
            return _scale(_helper(x)) + b_helper(x) + math.floor(0.5) + _helper_local
    ''',
    "heubase.fake.b": '''
        def _helper(x):
            return 10 * x


        def scale(x, helper=_helper):
            return helper(x) * 2
    ''',
}

TARGET = '''import torch
from heubase.fake.a import top as T
from heubase.fake.b import scale

#Hyperparameter#
MAX_TIME = 1.0
#Hyperparameter#
math = 2


def _helper(y):
    return -y


def solve(x):
    return T(x) + _helper(x) + scale(x) + math
'''


def test_inline_imports_renames_and_orders():
    program = Program.parse(TARGET)
    standalone = program.inline_imports(resolver=lambda module: textwrap.dedent(LIBRARY[module]))
    source = standalone.source
    assert standalone.heubase_imports() == []
    assert "def T(x):" in source and "def top" not in source
    assert "def _helper_a(x):" in source and "def _helper_b(x):" in source and "def _helper(y):" in source
    assert source.count("def scale(") == 1
    assert ImportRef("math", None, "math_math") in standalone.imports()
    assert source.startswith("from __future__ import annotations\n")
    assert source.index("def _helper_b") < source.index("def scale") < source.index("def T")
    namespace: dict = {}
    exec(compile(source, "standalone", "exec"), namespace)
    # T(1) = 2 * 10 * (1 + 3) + 10 * 1 = 90; _helper(1) = -1; scale(1) = 20; math = 2
    assert namespace["solve"](1) == 90 - 1 + 20 + 2
    assert program.inline_imports(prefixes=("nothing.",)) is program


def test_inline_imports_reports_missing_names():
    program = Program.parse(TARGET.replace("import top as T", "import bottom"))
    with pytest.raises(ProgramError, match="'bottom'.*heubase.fake.a"):
        program.inline_imports(resolver=lambda module: textwrap.dedent(LIBRARY[module]))


def test_inline_imports_hoists_function_level_imports():
    program = Program.parse(TARGET.replace("    return T(x)", "    from heubase.fake.b import _helper as h10\n"
                                                              "    return h10(0) + T(x)"))
    standalone = program.inline_imports(resolver=lambda module: textwrap.dedent(LIBRARY[module]))
    assert "heubase" not in standalone.source.replace("# inlined from heubase", "")
    namespace: dict = {}
    exec(compile(standalone.source, "standalone", "exec"), namespace)
    assert namespace["solve"](1) == 90 - 1 + 20 + 2
    clash = Program.parse(TARGET.replace("    return T(x)", "    from heubase.fake.b import scale as math\n"
                                                            "    return T(x)"))
    with pytest.raises(ProgramError, match="'math' is also a module-level name"):
        clash.inline_imports(resolver=lambda module: textwrap.dedent(LIBRARY[module]))
