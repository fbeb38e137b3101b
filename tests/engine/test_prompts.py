"""Tests of beam/prompts.py and the templates in prompts/, on the real EPLB problem files."""
from __future__ import annotations

import ast
from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from beam import prompts
from beam.problem import load_problem
from beam.prompts import FunctionDoc, Prompt, PromptContext

ROOT = Path(__file__).resolve().parents[2]
EPLB = ROOT / "problems" / "eplb"
SKELETON = (EPLB / "skeletons" / "hier_pack_refine.py").read_text(encoding="utf-8")
ELITE = (EPLB / "skeletons" / "multistart_select.py").read_text(encoding="utf-8")
NOTES = ["Greedy LPT packing is within 4/3 of the optimal makespan.",
         "Replicating hot experts beyond the next window's need overfits the observed window."]
MEMORY = FunctionDoc(name="pack_lpt_with_swaps", module="memory.pack_lpt_with_swaps",
                     signature="(weights: torch.Tensor, num_packs: int, deadline: float) -> torch.Tensor",
                     doc="LPT packing followed by pairwise swaps until the deadline.\n\n"
                         "Args:\n    weights: [B, n] item loads.\n\nReturns:\n    [B, n] int64 pack of every item.")
FUNC_2 = ("def func_2(item_load, pack_of_item, num_packs, rounds, deadline):\n"
          "    return pack_of_item  # EARLIER-REALISATION-MARKER\n")


def heubase_docs(module: str) -> list[FunctionDoc]:
    """FunctionDocs of a HeuBase module's public functions, read with ast (no torch import)."""
    tree = ast.parse((ROOT / "heubase" / "eplb" / f"{module}.py").read_text(encoding="utf-8"))
    docs = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            docs.append(FunctionDoc(node.name, f"heubase.eplb.{module}",
                                    f"def {node.name}({ast.unparse(node.args)}){returns}",
                                    ast.get_docstring(node) or ""))
    return docs


@pytest.fixture(scope="module")
def ctx() -> PromptContext:
    heubase = heubase_docs("pack") + heubase_docs("plan")
    return PromptContext.from_problem(load_problem(EPLB), heubase=heubase, memory=[MEMORY], knowledge=NOTES)


def all_prompts(ctx: PromptContext) -> dict[str, Prompt]:
    return {
        "initial_structure": prompts.initial_structure(ctx),
        "crossover": prompts.crossover(ctx, SKELETON, ELITE),
        "mutation": prompts.mutation(ctx, SKELETON, ELITE),
        "fill_one": prompts.fill_one(ctx, SKELETON, 2, [FUNC_2]),
        "fill_all": prompts.fill_all(ctx, SKELETON),
        "fix": prompts.fix(ctx, SKELETON, "Traceback (most recent call last):\nValueError: func_1 returned a pack "
                                          "index outside [0, 8)", last_good=ELITE),
        "parameter_ranges": prompts.parameter_ranges(SKELETON),
        "describe": prompts.describe(FUNC_2),
    }


def test_context_from_problem(ctx: PromptContext):
    assert ctx.entry == "rebalance_experts"
    assert ctx.timeout == 0.05
    assert ctx.problem.startswith("EPLB")
    assert "balancedness_gpu" in ctx.description


def test_every_operation_returns_a_complete_prompt(ctx: PromptContext):
    rendered = all_prompts(ctx)
    assert tuple(rendered) == prompts.OPERATIONS
    for name, prompt in rendered.items():
        assert prompt.operation == name
        assert prompt.system.strip() and prompt.user.strip()
        assert "```python" in prompt.system                     # the answer-format rule
        for text in (prompt.system, prompt.user):
            assert "{{" not in text and "{%" not in text and "Undefined" not in text
        assert [m["role"] for m in prompt.messages()] == ["system", "user"]


@pytest.mark.parametrize("operation", ["initial_structure", "crossover", "mutation"])
def test_structure_prompts(ctx: PromptContext, operation: str):
    user = all_prompts(ctx)[operation].user
    assert "def rebalance_experts(weight: torch.Tensor" in user            # the signature, verbatim
    assert "balancedness_gpu" in user                                      # the description
    assert "MAX_TIME = 0.05" in user and "#Hyperparameter#" in user and "# int" in user
    assert "at most 4" in user and "# Purpose:" in user and "`func_<i>`" in user
    for doc in ctx.heubase:
        assert f"from {doc.module} import {doc.name}" in user
    assert "from memory.pack_lpt_with_swaps import pack_lpt_with_swaps" in user
    assert "Never define, copy or re-implement" in user
    assert all(note in user for note in NOTES)
    assert "no file system, network" in user and "Every call must stand on its own" in user
    assert "exactly one fenced code block" in user


def test_crossover_shows_worse_then_better(ctx: PromptContext):
    user = prompts.crossover(ctx, "WORSE_CODE = 1", "BETTER_CODE = 2").user
    assert user.index("WORSE_CODE = 1") < user.index("BETTER_CODE = 2")
    assert user.index("## Function library") < user.index("WORSE_CODE = 1")     # the task first, then parents


def test_mutation_shows_current_and_elite(ctx: PromptContext):
    user = prompts.mutation(ctx, "CURRENT_CODE = 1", "ELITE_CODE = 2").user
    assert user.index("CURRENT_CODE = 1") < user.index("ELITE_CODE = 2")
    assert "Elite structure" in user


def test_fill_one(ctx: PromptContext):
    prompt = prompts.fill_one(ctx, SKELETON, 2, [FUNC_2, "def func_2(*a):\n    return None\n"])
    assert SKELETON.strip() in prompt.user
    assert "Implement `func_2`, and only `func_2`" in prompt.user
    assert "EARLIER-REALISATION-MARKER" in prompt.user and "Earlier implementation 2" in prompt.user
    assert "must be different from every one of them" in prompt.user
    assert "MAX_TIME = 0.05" in prompt.user and "pack_karmarkar_karp" in prompt.user
    assert "Implement the" not in prompt.system and "placeholder" in prompt.system
    empty = prompts.fill_one(ctx, SKELETON, 1, [])
    assert "Earlier implementation" not in empty.user and "`func_1`" in empty.user
    with pytest.raises(ValueError):
        prompts.fill_one(ctx, SKELETON, 0, [])


def test_fill_all(ctx: PromptContext):
    user = prompts.fill_all(ctx, SKELETON).user
    assert SKELETON.strip() in user
    assert "Implement every placeholder" in user and "MAX_TIME = 0.05" in user
    assert "pack_lpt" in user and NOTES[0] in user


def test_fix(ctx: PromptContext):
    prompt = all_prompts(ctx)["fix"]
    assert SKELETON.strip() in prompt.user and ELITE.strip() in prompt.user
    assert "func_1 returned a pack index outside [0, 8)" in prompt.user
    assert "`MAX_TIME = 0.05`" in prompt.user and "must stay exactly as it is" in prompt.user
    assert "Do not remove or rename hyperparameters" in prompt.user
    assert "pack_lpt" in prompt.user and "def rebalance_experts(" in prompt.user
    without = prompts.fix(ctx, SKELETON, "boom")
    assert "last working version" not in without.user and "boom" in without.user


def test_parameter_ranges_and_describe():
    pms = prompts.parameter_ranges(SKELETON)
    assert SKELETON.strip() in pms.user and "pms_dict" in pms.user and "(low, high)" in pms.user
    assert "`MAX_TIME` is the fixed time budget: leave it out" in pms.user
    desc = prompts.describe(FUNC_2)
    assert FUNC_2.strip() in desc.user
    assert "Args:" in desc.user and "Returns:" in desc.user and "not `func_<i>`" in desc.user


def test_temperatures(ctx: PromptContext):
    rendered = all_prompts(ctx)
    assert rendered["fix"].temperature == 0.7
    assert all(p.temperature == 1.0 for name, p in rendered.items() if name != "fix")
    assert prompts.fix(ctx, SKELETON, "e", temperature=0.2).temperature == 0.2
    assert prompts.describe(FUNC_2, temperature=0.0).temperature == 0.0


def test_huge_error_is_truncated_with_marker(ctx: PromptContext):
    error = "Traceback (most recent call last):\n" + "  frame line\n" * 5000 + "ValueError: THE-REAL-CAUSE"
    user = prompts.fix(ctx, SKELETON, error).user
    assert "characters omitted" in user
    assert "ValueError: THE-REAL-CAUSE" in user and "Traceback (most recent call last)" in user
    assert user.count("frame line") < 400
    assert len(user) < len(SKELETON) + len(ctx.signature) + 30_000


def test_truncate_helper():
    assert prompts.truncate("short", 10) == "short"
    cut = prompts.truncate("a" * 50 + "z" * 50, 20, head=5)
    assert cut.startswith("aaaaa\n[... 80 characters omitted ...]\n") and cut.endswith("z" * 15)
    assert prompts.truncate("x" * 30, 10).startswith("x" * 10 + "\n[... 20")


def test_no_library_and_no_knowledge():
    bare = PromptContext(problem="toy", alg_type="heuristic", description="Sort numbers.",
                         signature="def solve(xs: list[int]) -> list[int]: ...", timeout=1.5)
    user = prompts.initial_structure(bare).user
    assert "No library functions are available" in user and "Prior knowledge" not in user
    assert "MAX_TIME = 1.5" in user and "`solve`" in user


def test_fence_survives_backticks_in_code(ctx: PromptContext):
    code = 'DOC = """use ```python blocks```"""\n'
    assert prompts.fence(code).startswith("````python\n")
    assert "````python\n" + code in prompts.describe(code).user


def test_stub_accepts_several_signature_styles():
    doc = "Do it.\n\nArgs:\n    x: a value."
    for signature in ("def f(x: int) -> int", "(x: int) -> int", "f(x: int) -> int", "def f(x: int) -> int:"):
        stub = prompts.stub(FunctionDoc("f", "m", signature, doc))
        assert stub.startswith("def f(x: int) -> int:\n") and "Args:" in stub
        ast.parse(stub)                                              # a valid Python stub
    assert prompts.stub(FunctionDoc("g", "m", "(x)", 'has """ quotes')).count('"""') == 2


@pytest.mark.parametrize("template, variables", [
    ("fix", dict(program="x = 1", entry="f", signature="def f(): ...", timeout=1.0,
                 last_good=None, heubase=[], memory=[])),                           # no error
    ("fill_one", dict(program="x = 1")),
    ("exterior_user_generator", dict(problem="p", alg_type="heuristic")),
    ("ask_pms_interval", {}),
    ("am", {}),
    ("heubase", dict(heubase=[])),
    ("prior_knowledge", {}),
    ("problem_description", {}),
])
def test_missing_variables_raise(template: str, variables: dict):
    with pytest.raises(jinja2.UndefinedError):
        prompts.render(template, **variables)


def test_every_template_is_used(ctx: PromptContext, monkeypatch):
    rendered: set[str] = set()
    real_render = prompts.render

    def recording(name, **variables):
        rendered.add(name if name.endswith(".j2") else name + ".j2")
        return real_render(name, **variables)

    monkeypatch.setattr(prompts, "render", recording)
    all_prompts(ctx)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "prompts")))
    referenced = set()
    templates = sorted(p.name for p in (ROOT / "prompts").glob("*.j2"))
    for name in templates:
        source = env.loader.get_source(env, name)[0]
        referenced |= set(jinja2.meta.find_referenced_templates(env.parse(source)))
    unused = set(templates) - rendered - referenced
    assert not unused, f"templates neither rendered nor included: {sorted(unused)}"
    assert {"system_generator.j2", "exterior_user_generator.j2", "crossover.j2", "mutation.j2",
            "fill_one.j2", "fill_all.j2", "fix.j2", "fix_system.j2", "func_generation.j2",
            "ask_pms_interval.j2", "ask_pms_system.j2", "am.j2", "heubase.j2", "prior_knowledge.j2",
            "problem_description.j2"} <= set(templates)


def test_prompts_dir_override(tmp_path: Path, monkeypatch):
    (tmp_path / "probe.j2").write_text("hello {{ who }}\n", encoding="utf-8")
    monkeypatch.setenv(prompts.PROMPTS_ENV, str(tmp_path))
    assert prompts.prompts_dir() == tmp_path.resolve()
    assert prompts.render("probe", who="BEAM") == "hello BEAM\n"
    monkeypatch.delenv(prompts.PROMPTS_ENV)
    assert prompts.prompts_dir() == ROOT / "prompts"
