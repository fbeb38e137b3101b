"""LLMGenerator against the real openai client and a scripted local server (tests/engine/fake_openai.py)."""
from __future__ import annotations

import ast
import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_openai import Close, FakeOpenAI, Malformed, Reply, Status  # noqa: E402

from beam.catalog import catalog  # noqa: E402
from beam.generators.base import GenerationError, GeneratorContext  # noqa: E402
from beam.generators.extract import ExtractionError  # noqa: E402
from beam.generators.llm import LLMConfigError, LLMGenerator, LLMSettings, prompt_key  # noqa: E402
from beam.problem import load_problem  # noqa: E402
from beam.program import Program  # noqa: E402
from beam.prompts import fence  # noqa: E402
from beam.store import RunStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SKELETON = '''import time

#Hyperparameter#
MAX_TIME = 0.5
ROUNDS = 4  # int
SHARE = 0.5
#Hyperparameter#


def func_1(items: list[float], num_bins: int) -> list[int]:
    # Purpose: assign every item to a bin, heaviest first onto the lightest bin.
    pass


def func_2(items: list[float], bin_of_item: list[int], rounds: int) -> list[int]:
    # Purpose: move items between bins to lower the heaviest bin.
    pass


def solve(items: list[float], num_bins: int) -> list[int]:
    start = time.perf_counter()
    return func_2(items, func_1(items, num_bins), ROUNDS)
'''

FUNC_1 = '''def func_1(items: list[float], num_bins: int) -> list[int]:
    # Purpose: assign every item to a bin, heaviest first onto the lightest bin.
    loads = [0.0] * num_bins
    out = [0] * len(items)
    for i in sorted(range(len(items)), key=lambda k: -items[k]):
        b = min(range(num_bins), key=loads.__getitem__)
        out[i] = b
        loads[b] += items[i]
    return out
'''

FUNC_2 = '''def func_2(items: list[float], bin_of_item: list[int], rounds: int) -> list[int]:
    # Purpose: move items between bins to lower the heaviest bin.
    return list(bin_of_item)
'''


def _replace(source: str, name: str, new: str) -> str:
    return str(Program.parse(source).with_function(name, new))


FILLED_1 = _replace(SKELETON, "func_1", FUNC_1)
FILLED_ALL = _replace(FILLED_1, "func_2", FUNC_2)
RANGES = "```python\npms_dict = {\n    'ROUNDS': (1, 16),\n    'SHARE': (0.1, 0.9),\n}\n```"
DESCRIBED = '```python\ndef greedy_lightest_bin(items, num_bins):\n    """Greedy packing.\n\n    Args:\n' \
            '        items: loads.\n\n    Returns:\n        bin of every item.\n    """\n```'


@pytest.fixture(scope="module")
def problem(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("toy")
    (root / "problem.toml").write_text('[problem]\nname = "toy"\nentry = "solve"\ndirection = "maximize"\n'
                                       'description = "description.md"\nsignature = "signature.py"\n'
                                       'max_time_s = 0.5\n', encoding="utf-8")
    (root / "description.md").write_text("# Toy bin packing\n\nPack items into bins; keep the heaviest light.\n",
                                         encoding="utf-8")
    (root / "signature.py").write_text("def solve(items: list[float], num_bins: int) -> list[int]:\n"
                                       '    """Bin of every item."""\n', encoding="utf-8")
    return load_problem(root)


def make(problem, server: FakeOpenAI | None, store: RunStore | None = None, **options: Any) -> LLMGenerator:
    settings: dict[str, Any] = dict(model="fake-model", base_url=server.base_url if server else None, api_key="k",
                                    store=store, timeout_s=5.0, max_retries=2, backoff_s=0.001)
    settings.update(options)
    return LLMGenerator(GeneratorContext(problem=problem, heubase=[]), **settings)


def run(generator: LLMGenerator, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run one coroutine in a fresh event loop and close the generator's client afterwards."""
    async def main() -> Any:
        try:
            return await call()
        finally:
            await generator.aclose()

    return asyncio.run(main())


# ----------------------------------------------------------------------------- settings

def test_settings_flags_then_env_then_default() -> None:
    env = {"BEAM_MODEL": "m-env", "OPENAI_BASE_URL": "http://o/v1", "OPENAI_API_KEY": "ok"}
    s = LLMSettings.from_env_and_flags(env=env)
    assert (s.model, s.base_url, s.api_key) == ("m-env", "http://o/v1", "ok")
    env.update(BEAM_BASE_URL="http://b/v1", BEAM_API_KEY="bk")
    s = LLMSettings.from_env_and_flags(env=env)
    assert (s.base_url, s.api_key) == ("http://b/v1", "bk")
    s = LLMSettings.from_env_and_flags("m-flag", "http://f/v1", "fk", env=env)
    assert (s.model, s.base_url, s.api_key) == ("m-flag", "http://f/v1", "fk")
    s = LLMSettings.from_env_and_flags("m", env={})
    assert (s.base_url, s.api_key) == (None, "EMPTY")
    with pytest.raises(LLMConfigError, match="BEAM_MODEL"):
        LLMSettings.from_env_and_flags(env={})


def test_model_from_environment_and_bad_settings(problem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEAM_MODEL", "env-model")
    monkeypatch.delenv("BEAM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    gen = LLMGenerator(GeneratorContext(problem=problem, heubase=[]))
    assert gen.model == "env-model" and gen.settings.api_key == "EMPTY"
    with pytest.raises(LLMConfigError, match="concurrency"):
        LLMGenerator(GeneratorContext(problem=problem, heubase=[]), concurrency=0)


# ----------------------------------------------------------------------------- operations

def test_every_operation_parses_a_good_reply(problem) -> None:
    replies = [fence(SKELETON), fence(SKELETON), fence(SKELETON), fence(FILLED_1), fence(FILLED_ALL),
               fence(FILLED_ALL), RANGES, DESCRIBED]
    with FakeOpenAI(replies) as server:
        gen = make(problem, server, max_tokens=512)

        async def all_ops() -> list[Any]:
            return [await gen.initial_structure(0), await gen.crossover(SKELETON, SKELETON),
                    await gen.mutate(SKELETON, SKELETON), await gen.fill_one(SKELETON, 1, [FUNC_1]),
                    await gen.fill_all(FILLED_1), await gen.fix(FILLED_ALL, "ZeroDivisionError: boom"),
                    await gen.parameter_ranges(FILLED_ALL), await gen.describe(FUNC_1)]

        out = run(gen, all_ops)
        requests = list(server.requests)
    assert out[0] == out[1] == out[2] == SKELETON
    assert out[3] == FILLED_1 and out[4] == out[5] == FILLED_ALL
    assert out[6] == {"ROUNDS": (1, 16), "SHARE": (0.1, 0.9)}
    assert out[7].startswith("def greedy_lightest_bin(items: list[float], num_bins: int) -> list[int]:\n")
    assert ast.get_docstring(ast.parse(out[7]).body[0]).startswith("Greedy packing.")
    assert len(requests) == 8
    for request in requests:
        assert request["model"] == "fake-model" and request["max_tokens"] == 512
        assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert [r["temperature"] for r in requests] == [1.0] * 5 + [0.7] + [1.0] * 2
    assert "func_1" in requests[3]["messages"][1]["content"] and "ZeroDivisionError" in requests[5]["messages"][1][
        "content"]
    usage = gen.usage()
    assert usage["calls"] == 8 and usage["errors"] == usage["retries"] == usage["parse_errors"] == 0
    assert usage["prompt_tokens"] == 80 and usage["completion_tokens"] == 40


def test_unfenced_reply_and_temperature_override(problem) -> None:
    with FakeOpenAI(["Sure! Here is the design.\n\n" + SKELETON + "\nThis should work well."]) as server:
        gen = make(problem, server, temperature_override=0.25)
        assert run(gen, lambda: gen.initial_structure(0)) == SKELETON
        assert server.requests[0]["temperature"] == 0.25
        assert "max_tokens" not in server.requests[0]


def test_structure_without_entry_is_rejected(problem) -> None:
    only_helpers = SKELETON.split("def solve")[0]
    with FakeOpenAI([fence(only_helpers), "I am sorry, I cannot help with that."]) as server:
        gen = make(problem, server)
        with pytest.raises(ExtractionError, match="defines func_1, func_2 but not solve"):
            run(gen, lambda: gen.initial_structure(0))
        with pytest.raises(ExtractionError, match="no Python code"):
            run(gen, lambda: gen.initial_structure(1))
    assert gen.usage()["parse_errors"] == 2


def test_max_time_is_restored(problem) -> None:
    with FakeOpenAI([fence(SKELETON.replace("MAX_TIME = 0.5", "MAX_TIME = 9.0"))]) as server:
        gen = make(problem, server)
        out = run(gen, lambda: gen.initial_structure(0))
    assert Program.parse(out).hyperparameters()["MAX_TIME"].value == 0.5
    assert any("MAX_TIME" in w for w in gen.warnings)


def test_fill_one_splices_a_lone_function_and_rejects_a_stub(problem) -> None:
    with FakeOpenAI([f"Here is func_1:\n{fence(FUNC_1)}", fence(SKELETON)]) as server:
        gen = make(problem, server)
        assert run(gen, lambda: gen.fill_one(SKELETON, 1, [])) == FILLED_1
        with pytest.raises(ExtractionError, match="leaves func_1 a placeholder"):
            run(gen, lambda: gen.fill_one(SKELETON, 1, []))
        with pytest.raises(GenerationError, match="no placeholder func_7"):
            run(gen, lambda: gen.fill_one(SKELETON, 7, []))
        assert len(server.requests) == 2    # no request for a placeholder that does not exist


def test_fill_all_leaving_a_placeholder_is_rejected(problem) -> None:
    with FakeOpenAI([fence(FILLED_1)]) as server:
        gen = make(problem, server)
        with pytest.raises(ExtractionError, match="func_2 unrealised"):
            run(gen, lambda: gen.fill_all(SKELETON))


def test_parameter_ranges_drops_unknown_names_and_bad_entries(problem) -> None:
    reply = "```python\npms_dict = {'MAX_TIME': (0.1, 1), 'ROUNDS': (16, 1), 'SHARE': 'wide', 'NOPE': (0, 1)}\n```"
    with FakeOpenAI([reply, "```python\npms_dict = {'NOPE': (0, 1)}\n```"]) as server:
        gen = make(problem, server)
        assert run(gen, lambda: gen.parameter_ranges(FILLED_ALL)) == {"ROUNDS": (1, 16)}
        assert any("NOPE" in w for w in gen.warnings) and any("SHARE" in w for w in gen.warnings)
        with pytest.raises(ExtractionError, match="none of the hyperparameters"):
            run(gen, lambda: gen.parameter_ranges(FILLED_ALL))


def test_describe_rejects_placeholder_names(problem) -> None:
    with FakeOpenAI(['```python\ndef func_3(items, num_bins):\n    """Greedy."""\n```']) as server:
        gen = make(problem, server)
        with pytest.raises(ExtractionError, match="func_3"):
            run(gen, lambda: gen.describe(FUNC_1))


def test_real_eplb_context_lists_heubase(tmp_path: Path) -> None:
    eplb = load_problem(ROOT / "problems" / "eplb")
    components = catalog(ROOT / "heubase" / "eplb", "heubase.eplb")
    skeleton = (ROOT / "problems" / "eplb" / "skeletons" / "hier_pack_refine.py").read_text(encoding="utf-8")
    with FakeOpenAI([f"Design:\n\n{fence(skeleton)}"]) as server:
        gen = LLMGenerator(GeneratorContext(problem=eplb, heubase=components, knowledge=["NOTE-MARKER text"]),
                           model="m", base_url=server.base_url, api_key="k", backoff_s=0.001)
        out = run(gen, lambda: gen.initial_structure(0))
        user = server.requests[0]["messages"][1]["content"]
    assert out == skeleton
    assert f"from {components[0].module} import {components[0].name}" in user
    assert "NOTE-MARKER" in user and "rebalance_experts" in user


# ----------------------------------------------------------------------------- transport failures

def test_rate_limit_then_success_is_retried_and_recorded(problem, tmp_path: Path) -> None:
    with RunStore(tmp_path) as store, FakeOpenAI([Status(429, retry_after=0), fence(SKELETON)]) as server:
        gen = make(problem, server, store=store)
        assert run(gen, lambda: gen.initial_structure(0)) == SKELETON
        assert len(server.requests) == 2
        usage = gen.usage()
        assert (usage["calls"], usage["errors"], usage["retries"], usage["failed"]) == (2, 1, 1, 0)
        calls = store.calls()
        assert len(calls) == 2
        assert calls[0]["reply"] is None and "RateLimitError 429" in calls[0]["error"]
        assert calls[1]["error"] is None and calls[1]["reply"] == fence(SKELETON)
        assert (calls[1]["prompt_tokens"], calls[1]["completion_tokens"]) == (10, 5)
        assert calls[1]["latency_s"] > 0 and calls[1]["model"] == "fake-model"
        request = server.requests[1]["messages"]
        assert request[0]["content"] in calls[1]["prompt"] and request[1]["content"] in calls[1]["prompt"]
        totals = store.usage_totals()
        assert (totals["calls"], totals["errors"], totals["prompt_tokens"]) == (2, 1, 10)


def test_retry_after_header_is_honoured(problem) -> None:
    with FakeOpenAI([Status(429, retry_after=0.3), fence(SKELETON)]) as server:
        gen = make(problem, server)
        started = time.perf_counter()
        run(gen, lambda: gen.initial_structure(0))
        assert time.perf_counter() - started >= 0.3


def test_server_errors_give_up_after_max_retries(problem) -> None:
    with FakeOpenAI([Status(500)] * 3 + [fence(SKELETON)]) as server:
        gen = make(problem, server, max_retries=2)
        with pytest.raises(GenerationError, match="after 3 attempt.*InternalServerError 500"):
            run(gen, lambda: gen.initial_structure(0))
        assert len(server.requests) == 3
        assert gen.usage()["failed"] == 1 and gen.usage()["retries"] == 2


@pytest.mark.parametrize("code", [400, 401, 404])
def test_client_errors_fail_at_once(problem, code: int) -> None:
    with FakeOpenAI([Status(code), fence(SKELETON)]) as server:
        gen = make(problem, server)
        with pytest.raises(GenerationError, match=f"refused the request.*{code}"):
            run(gen, lambda: gen.initial_structure(0))
        assert len(server.requests) == 1


def test_slow_reply_times_out_and_is_retried(problem) -> None:
    with FakeOpenAI([Reply(fence(SKELETON), delay=2.0), fence(SKELETON)]) as server:
        gen = make(problem, server, timeout_s=0.3)
        assert run(gen, lambda: gen.initial_structure(0)) == SKELETON
        assert gen.usage()["errors"] == 1 and len(server.requests) == 2
    with FakeOpenAI([Reply(fence(SKELETON), delay=2.0)] * 2) as server:
        gen = make(problem, server, timeout_s=0.3, max_retries=1)
        with pytest.raises(GenerationError, match="APITimeoutError"):
            run(gen, lambda: gen.initial_structure(0))


def test_connection_refused_and_dropped_connections(problem) -> None:
    with FakeOpenAI() as server:
        dead = make(problem, server, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(GenerationError, match="APIConnectionError"):
        run(dead, lambda: dead.initial_structure(0))
    assert time.perf_counter() - started < 5 and dead.usage()["calls"] == 2
    with FakeOpenAI([Close(), fence(SKELETON)]) as server:
        gen = make(problem, server)
        assert run(gen, lambda: gen.initial_structure(0)) == SKELETON
        assert gen.usage()["retries"] == 1


@pytest.mark.parametrize("bad", [Malformed(), Malformed('{"foo": 1}'), Malformed('{"choices": []}'),
                                 Malformed("plain text", content_type="text/plain"),
                                 Malformed('{"choices": [{"index": 0, "message": {"role": "assistant"}}]}')],
                         ids=["not-json", "no-choices", "empty-choices", "text-plain", "no-content"])
def test_malformed_bodies_are_retried_then_fail(problem, bad: Malformed) -> None:
    with FakeOpenAI([bad, fence(SKELETON)]) as server:
        gen = make(problem, server)
        assert run(gen, lambda: gen.initial_structure(0)) == SKELETON
        assert gen.usage()["retries"] == 1
    with FakeOpenAI([bad] * 3) as server:
        gen = make(problem, server, max_retries=2)
        with pytest.raises(GenerationError, match="after 3 attempt"):
            run(gen, lambda: gen.initial_structure(0))
        assert len(server.requests) == 3


def test_backoff_is_seeded_and_grows(problem) -> None:
    a, b = make(problem, None, backoff_s=1.0, seed=3), make(problem, None, backoff_s=1.0, seed=3)
    delays = [a._backoff(k, None) for k in (1, 2, 3, 4)]
    assert delays == [b._backoff(k, None) for k in (1, 2, 3, 4)]
    assert all(0.5 * 2 ** (k - 1) <= d <= 1.5 * 2 ** (k - 1) for k, d in zip((1, 2, 3, 4), delays))


# ----------------------------------------------------------------------------- budgets and cost

def test_token_budget_stops_calls(problem, tmp_path: Path) -> None:
    with RunStore(tmp_path) as store, FakeOpenAI([fence(SKELETON)] * 3) as server:
        gen = make(problem, server, store=store, token_budget=15)
        run(gen, lambda: gen.initial_structure(0))
        with pytest.raises(GenerationError, match="token budget exhausted"):
            run(gen, lambda: gen.initial_structure(1))
        assert len(server.requests) == 1 and gen.usage()["refused"] == 1
        # a resumed run counts what the store already spent, yet replays for free
        again = make(problem, server, store=store, token_budget=15)
        assert run(again, lambda: again.initial_structure(0)) == SKELETON
        with pytest.raises(GenerationError, match="token budget exhausted"):
            run(again, lambda: again.initial_structure(1))
        assert len(server.requests) == 1


def test_cost_accounting_and_cost_budget(problem, tmp_path: Path) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    with RunStore(tmp_path) as store, FakeOpenAI([Reply(fence(SKELETON), usage=usage)] * 2) as server:
        gen = make(problem, server, store=store, price_per_1k_prompt=1.0, price_per_1k_completion=2.0,
                   cost_budget=2.0)
        run(gen, lambda: gen.initial_structure(0))
        assert gen.usage()["cost"] == pytest.approx(2.0)
        assert store.usage_totals()["cost"] == pytest.approx(2.0)
        with pytest.raises(GenerationError, match="cost budget exhausted"):
            run(gen, lambda: gen.initial_structure(1))
        assert len(server.requests) == 1


def test_missing_usage_is_estimated(problem) -> None:
    reply = fence(SKELETON)
    with FakeOpenAI([Reply(reply, usage=None)]) as server:
        gen = make(problem, server)
        run(gen, lambda: gen.initial_structure(0))
        messages = server.requests[0]["messages"]
    prompt_chars = len(messages[0]["content"]) + len(messages[1]["content"])
    assert gen.usage()["completion_tokens"] == -(-len(reply) // 4)
    assert gen.usage()["prompt_tokens"] == -(-prompt_chars // 4)


# ----------------------------------------------------------------------------- cache and concurrency

def test_reply_cache_replays_a_run_without_requests(problem, tmp_path: Path) -> None:
    second = SKELETON.replace("ROUNDS = 4", "ROUNDS = 6")
    third = SKELETON.replace("ROUNDS = 4", "ROUNDS = 8")
    with RunStore(tmp_path) as store, FakeOpenAI([fence(SKELETON), fence(second), fence(third)]) as server:
        first_run = make(problem, server, store=store)

        async def twice(gen: LLMGenerator) -> list[str]:
            return [await gen.initial_structure(0), await gen.initial_structure(1)]

        assert run(first_run, lambda: twice(first_run)) == [SKELETON, second]
        assert len(server.requests) == 2
        resumed = make(problem, server, store=store)
        assert run(resumed, lambda: twice(resumed)) == [SKELETON, second]
        assert len(server.requests) == 2
        assert resumed.usage()["cached"] == 2 and resumed.usage()["calls"] == 0
        assert run(resumed, lambda: resumed.initial_structure(2)) == third   # the 3rd occurrence is new
        assert len(server.requests) == 3
        key = prompt_key("fake-model", _initial_prompt(resumed))
        assert [c["prompt_hash"] for c in store.calls()] == [key] * 3
        # another model shares nothing
        other = make(problem, server, store=store, model="other-model")
        server.push(fence(SKELETON))
        run(other, lambda: other.initial_structure(0))
        assert len(server.requests) == 4


def _initial_prompt(gen: LLMGenerator):
    from beam import prompts

    return prompts.initial_structure(gen._prompt_context())


@pytest.mark.parametrize("limit", [2, 4])
def test_concurrency_limit(problem, limit: int) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def script(request: dict) -> Reply:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        return Reply(fence(SKELETON))

    with FakeOpenAI(script) as server:
        gen = make(problem, server, concurrency=limit)

        async def many() -> list[str]:
            return await asyncio.gather(*(gen.initial_structure(i) for i in range(8)))

        assert run(gen, many) == [SKELETON] * 8
    assert state["max"] == limit
