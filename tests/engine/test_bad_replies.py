"""Fuzzing the LLM generator with random and adversarial model replies, through the real openai client.

Every reply must end in one of two ways: a program the engine can use (parsed,
complete for the operation) or a :class:`GenerationError` that the engine
routes to the fix loop / counts as a generator error. Nothing else may escape.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_openai import FakeOpenAI, Reply  # noqa: E402
from test_llm import FILLED_1, FILLED_ALL, FUNC_1, FUNC_2, SKELETON, make, problem  # noqa: E402,F401

from beam.generators.base import GenerationError  # noqa: E402
from beam.program import Program  # noqa: E402

FENCE = "`" * 3
ADVERSARIAL = [
    "",
    "I cannot help with that.",
    f"{FENCE}python\n{FUNC_1}",  # fence never closed
    f"{FENCE}python\n{FUNC_1[:40]}",  # truncated mid-function
    f"{FENCE}python\n{FUNC_1}{FENCE}\n{FENCE}python\n{FUNC_2}{FENCE}",  # two blocks
    f"{FENCE}python\n{FUNC_1}{FUNC_2}{FUNC_1}{FENCE}",  # several functions, one twice
    f"{FENCE}python\n{FUNC_1.replace('func_1', 'func_9')}{FENCE}",  # wrong name
    f"{FENCE}python\ndef func_1(items, num_bins:\n    return [\n{FENCE}",  # syntax error
    f"{FENCE}python\n{SKELETON}{FENCE}",  # placeholders left
    f"{FENCE}python\n" + "x = 1\n" * 200_000 + FENCE,  # enormous reply (1.2 MB)
    f"{FENCE}python\n{FUNC_1}\udc80\udcff{FENCE}",  # lone surrogates: not encodable as UTF-8
    f"{FENCE}python\n{FUNC_1}\x00\x1b[31m{FENCE}",  # NUL and terminal escapes
    f"{FENCE}python\nimport os\nos.system('rm -rf /')\n{FENCE}",  # hostile but inert text
    f"{FENCE}\n{FILLED_ALL}{FENCE}",  # no language tag
    f"~~~python\n{FILLED_ALL}~~~",  # tilde fence
    f"{FENCE}python\n{FENCE}python\n{FUNC_1}{FENCE}{FENCE}",  # nested fences
    f"{FENCE}python\npms_dict = {{'ROUNDS': (float('nan'), 1e308), 'SHARE': 'abc'}}\n{FENCE}",
    f"{FENCE}python\ndef func_1(items, num_bins):\n" + "    " * 400 + "return 1\n" + FENCE,
    f"{FENCE}python\n" + "(" * 5000 + ")" * 5000 + f"\n{FENCE}",  # parser stack bomb
]
replies = st.one_of(
    st.sampled_from(ADVERSARIAL),
    st.text(max_size=400),
    st.builds(lambda a, b: f"{a}{FENCE}python\n{b}\n{FENCE}", st.text(max_size=80), st.text(max_size=400)),
    st.builds(lambda cut: f"{FENCE}python\n{FILLED_ALL[:cut]}", st.integers(0, len(FILLED_ALL))),
    st.builds(lambda raw: f"{FENCE}python\n{raw.decode('utf-8', 'surrogateescape')}\n{FENCE}",
              st.binary(max_size=300)),
)
OPERATIONS = {
    "initial_structure": lambda g: g.initial_structure(0),
    "fill_all": lambda g: g.fill_all(SKELETON),
    "fill_one": lambda g: g.fill_one(SKELETON, 1, []),
    "fix": lambda g: g.fix(FILLED_ALL, "IndexError: list index out of range"),
    "mutate": lambda g: g.mutate(FILLED_1, FILLED_ALL),
    "parameter_ranges": lambda g: g.parameter_ranges(FILLED_ALL),
    "describe": lambda g: g.describe(FUNC_1),
}
TALLY = {"usable": 0, "rejected": 0}


def outcome(problem, server: FakeOpenAI, operation: str, reply: str) -> str:
    """'usable' or 'rejected'; any other exception fails the test."""
    server.script([Reply(reply)])
    generator = make(problem, server, max_retries=0)

    async def call():
        try:
            return await OPERATIONS[operation](generator)
        finally:
            await generator.aclose()

    try:
        result = asyncio.run(call())
    except GenerationError:
        assert generator.usage()["parse_errors"] + generator.usage()["failed"] >= 1  # it was counted
        return "rejected"
    if isinstance(result, str) and operation != "describe":
        Program.parse(result)  # what the engine receives always parses
    return "usable"


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(reply=replies, operation=st.sampled_from(sorted(OPERATIONS)))
def test_random_replies_are_used_or_rejected_never_crash(problem, reply, operation):
    with FakeOpenAI() as server:
        TALLY[outcome(problem, server, operation, reply)] += 1


def test_every_adversarial_reply_on_every_operation(problem):
    results = {}
    with FakeOpenAI() as server:
        for index, reply in enumerate(ADVERSARIAL):
            for operation in OPERATIONS:
                results[index, operation] = outcome(problem, server, operation, reply)
    # a reply with no code never becomes a program; fill_all never returns placeholders (a "fixed" program
    # that still has them is caught by the evaluation service's completeness check and goes round the fix loop)
    assert [results[i, "fill_all"] for i in (0, 1, 8)] == ["rejected"] * 3
    assert [results[i, "fix"] for i in (0, 1)] == ["rejected"] * 2
    assert results[13, "fill_all"] == results[14, "fill_all"] == "usable"
    print(f"adversarial: {len(results)} reply/operation pairs, "
          f"{sum(v == 'rejected' for v in results.values())} rejected, "
          f"{sum(v == 'usable' for v in results.values())} usable")
