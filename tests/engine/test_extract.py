"""Code, range and description extraction from model replies (beam/generators/extract.py)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam.generators.base import GenerationError
from beam.generators.extract import (MAX_REPLY_CHARS, ExtractionError, extract_description, extract_module,
                                     extract_ranges, fenced_blocks, top_level_names)

MODULE = ("import math\n\nX = 2\n\n\ndef solve(a):\n    return func_1(a) * X\n\n\n"
          "def func_1(a):\n    return math.sqrt(a)\n")


# ----------------------------------------------------------------------------- modules

@pytest.mark.parametrize("opening,closing", [("```python", "```"), ("```py", "```"), ("```", "```"),
                                             ("~~~python", "~~~"), ("````python", "````"), ("```Python3", "```"),
                                             ("  ```python", "  ```")])
def test_fence_styles(opening: str, closing: str) -> None:
    reply = f"Here is the solver.\n\n{opening}\n{MODULE}{closing}\n\nIt runs fast."
    assert extract_module(reply, ["solve", "func_1"]) == MODULE


def test_longer_fence_keeps_inner_backticks() -> None:
    code = 'DOC = """\n```\nnot a fence end\n```\n"""\n\n\ndef solve(a):\n    return a\n'
    assert extract_module(f"````python\n{code}````\n", ["solve"]) == code


def test_block_defining_the_names_wins_over_a_longer_one() -> None:
    longer = "def helper(a):\n" + "    a += 1\n" * 20 + "    return a\n"
    reply = f"```python\n{longer}```\n\nand the solver:\n\n```python\ndef solve(a):\n    return a\n```"
    assert extract_module(reply, ["solve"]) == "def solve(a):\n    return a\n"
    assert extract_module(reply) == longer


def test_two_full_versions_pick_the_longest_and_later() -> None:
    first = "def solve(a):\n    return a\n"
    second = "def solve(a):\n    b = a + 1\n    return b\n"
    assert extract_module(f"```python\n{first}```\nBetter:\n```python\n{second}```", ["solve"]) == second
    assert extract_module(f"```python\n{second}```\nBetter:\n```python\n{second}```", ["solve"]) == second


def test_imports_in_their_own_block_are_joined() -> None:
    reply = ("Imports:\n```python\nimport math\nimport torch\n```\nCode:\n```python\n"
             "def solve(a):\n    return math.sqrt(a)\n```\nUsage:\n```python\nprint(solve(4))\n```")
    assert extract_module(reply, ["solve"]) == "import math\nimport torch\n\ndef solve(a):\n    return math.sqrt(a)\n"


def test_functions_split_over_blocks_are_joined() -> None:
    reply = "```python\ndef solve(a):\n    return func_1(a)\n```\nthen\n```python\ndef func_1(a):\n    return a\n```"
    code = extract_module(reply, ["solve", "func_1"])
    assert top_level_names(code) == {"solve", "func_1"}


def test_non_python_blocks_are_ignored() -> None:
    reply = f"The error was:\n```text\nZeroDivisionError: boom\n```\nFixed:\n```python\n{MODULE}```"
    assert extract_module(reply, ["solve"]) == MODULE
    assert extract_module(f"```javascript\n{MODULE}```", ["solve"]) == MODULE   # mislabelled but it is the code


def test_unfenced_reply() -> None:
    assert extract_module(MODULE, ["solve"]) == MODULE
    prose = "Sure, here is an improved version.\nIt keeps the same interface:\n\n" + MODULE + "\nHope this helps!"
    assert extract_module(prose, ["solve"]) == MODULE


def test_truncated_fence_runs_to_the_end() -> None:
    assert extract_module(f"```python\n{MODULE}", ["solve"]) == MODULE
    assert extract_module("```python\ndef solve(a):\n    return a```", ["solve"]) == "def solve(a):\n    return a\n"
    cut = "```python\ndef solve(a):\n    return (a +"
    with pytest.raises(ExtractionError, match="line 2.*cut off"):
        extract_module(cut, ["solve"])


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ExtractionError, match=r"syntax error at line 3 .*for i in range\(n\)"):
        extract_module("```python\ndef solve(n):\n    x = 1\n    for i in range(n)\n        x += i\n```")
    with pytest.raises(ExtractionError, match="'return' outside function"):
        extract_module("```python\nreturn 1\n```")


def test_missing_names() -> None:
    with pytest.raises(ExtractionError, match="the reply defines solve, func_1 but not func_2"):
        extract_module(f"```python\n{MODULE}```", ["solve", "func_1", "func_2"])
    with pytest.raises(ExtractionError, match="defines no function .expected solve"):
        extract_module("```python\nX = 1\n```", ["solve"])
    with pytest.raises(ExtractionError, match="but not func_2"):
        extract_module(MODULE, ["func_2"])


@pytest.mark.parametrize("reply,message", [
    ("", "empty"), ("   \n\t\n", "empty"), (b"\xff\xfe\x00garbage", "UTF-8"), ("bad \udc80 surrogate", "UTF-8"),
    ("a\x00b", "NUL"), ("x" * (MAX_REPLY_CHARS + 1), "too long"),
    ("I'm sorry, I cannot help with that.", "no Python code"), ("Sure", "no Python code"),
    ("```python\n```", "no Python code"), (12, "not text"),
])
def test_unusable_replies(reply: object, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        extract_module(reply)  # type: ignore[arg-type]


def test_bytes_and_crlf_replies() -> None:
    assert extract_module(f"```python\r\n{MODULE}```".replace("\n", "\r\n").encode()) == MODULE


def test_extraction_error_is_a_generation_error() -> None:
    assert issubclass(ExtractionError, GenerationError)


def test_fenced_blocks() -> None:
    blocks = fenced_blocks("a\n```py\nx = 1\n```\nb\n~~~\ny = 2\n")
    assert [(b.text, b.lang, b.closed, b.line) for b in blocks] == [("x = 1", "py", True, 3), ("y = 2", "", False, 7)]
    assert fenced_blocks("inline ```code``` only") == []


# ----------------------------------------------------------------------------- ranges

def test_ranges_from_pms_dict() -> None:
    reply = "```python\npms_dict = {\n    'A': (1, 8),  # int\n    \"B\": [0.1, 0.9],\n}\n```"
    assert extract_ranges(reply) == {"A": (1, 8), "B": (0.1, 0.9)}


def test_ranges_in_prose_and_bare_dicts() -> None:
    assert extract_ranges("Use pms_dict = {'A': (1, 8)} and enjoy.") == {"A": (1, 8)}
    assert extract_ranges("```python\n{'A': (-1.5, 2e3)}\n```") == {"A": (-1.5, 2000.0)}
    assert extract_ranges("I think {'A': (0, 1)} is fine") == {"A": (0, 1)}
    assert extract_ranges("```python\npms_dict: dict = {'A': (0, 1)}\n```") == {"A": (0, 1)}


def test_bad_range_entries_are_dropped_with_warnings() -> None:
    notes: list[str] = []
    reply = ("pms_dict = {'A': (1, 8), 'B': (1, 2, 3), 'C': 'wide', 'D': (5, 1), 'E': (2, 2), 'F': (0, float('inf')),"
             " 'G': (True, 3), 3: (0, 1), 'H': (0, __import__('os').getpid()), **other}")
    assert extract_ranges(reply, notes) == {"A": (1, 8), "D": (1, 5)}
    text = "\n".join(notes)
    for name in ("B", "C", "D", "E", "F", "G", "H", "3", "**"):
        assert name in text


def test_no_valid_range_is_an_error() -> None:
    with pytest.raises(ExtractionError, match="no 'pms_dict"):
        extract_ranges("The ranges are wide.")
    with pytest.raises(ExtractionError, match="no valid"):
        extract_ranges("pms_dict = {'A': 'x'}")


def test_ranges_never_execute_code(tmp_path) -> None:
    marker = tmp_path / "ran"
    reply = f"pms_dict = {{'A': (0, open({str(marker)!r}, 'w').write('x')), 'B': (0, 1)}}"
    assert extract_ranges(reply) == {"B": (0, 1)}
    assert not marker.exists()


# ----------------------------------------------------------------------------- descriptions

def test_description() -> None:
    reply = ('```python\ndef pack_lpt(weights, num_packs):\n    """LPT packing.\n\n    Args:\n'
             '        weights: loads.\n    """\n```')
    assert extract_description(reply) == ("pack_lpt", "LPT packing.\n\nArgs:\n    weights: loads.")


def test_description_that_does_not_parse() -> None:
    reply = 'def spread(w) -> Tensor:\n    """Spread load."""\n    this is not python'
    assert extract_description(reply) == ("spread", "Spread load.")


def test_description_errors() -> None:
    with pytest.raises(ExtractionError, match="no docstring"):
        extract_description("```python\ndef f(a):\n    return a\n```")
    with pytest.raises(ExtractionError, match="no 'def"):
        extract_description("A function that packs.")


# ----------------------------------------------------------------------------- fuzz

FENCES = st.sampled_from(["```", "```python", "```py", "~~~", "````python", "```text", "``` ```", "~~~~"])
PIECES = st.one_of(st.text(max_size=40), FENCES, st.sampled_from([
    "def solve(a):", "    return a", "import math", "pms_dict = {", "'A': (0, 1)", "}", '"""', "'''",
    "func_1", "#Hyperparameter#", "(", ")", "\\", "\t", "{", "\r\n", "\x00", "\udc80"]))
REPLIES = st.lists(PIECES, max_size=25).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=st.one_of(st.text(max_size=300), REPLIES, st.binary(max_size=200)),
       must=st.lists(st.sampled_from(["solve", "func_1", "A"]), max_size=2))
def test_fuzz_only_extraction_errors(reply: object, must: list[str]) -> None:
    for extract in (lambda: extract_module(reply, must), lambda: extract_ranges(reply),  # type: ignore[arg-type]
                    lambda: extract_description(reply)):  # type: ignore[arg-type]
        try:
            out = extract()
        except ExtractionError as exc:
            assert str(exc) and "\n" not in str(exc).strip()
            continue
        if isinstance(out, str):
            compile(out, "<fuzz>", "exec")
            assert set(must) <= top_level_names(out)


@settings(max_examples=100, deadline=None)
@given(prose=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="`~\x00"),
                     max_size=80).filter(lambda s: "```" not in s),
       fence=st.sampled_from(["```python", "```py", "```", "~~~", "````"]))
def test_fuzz_prose_around_a_fenced_module(prose: str, fence: str) -> None:
    closing = fence.rstrip("pythonPY") or fence
    reply = f"{prose}\n{fence}\n{MODULE}{closing}\n{prose}"
    assert extract_module(reply, ["solve", "func_1"]) == MODULE
