"""The model generator: renders ``prompts/``, asks an OpenAI-compatible endpoint, parses the reply.

Every operation is one chat completion (``beam.prompts`` builds it, :mod:`beam.generators.extract`
reads it). Around the call:

* **retries**: 429, 408/409, 5xx, time-outs, dropped connections and malformed
  bodies are retried up to ``max_retries`` times with exponential back-off and
  seeded jitter (a ``Retry-After`` header is honoured); any other error (400,
  401, 404, ...) fails at once. What is left raises :class:`GenerationError`.
* **budgets**: before each request, if the tokens (or the cost) spent reach the
  budget the call fails without being sent. Tokens come from the response's
  ``usage`` (estimated as characters / 4 when absent); cost from the prices per
  1000 tokens. Calls already in the run's store count as spent.
* **replay**: with a :class:`~beam.store.RunStore`, the k-th identical request of
  a run (same model, operation, system and user text) gets the k-th reply stored
  for it, so a resumed run replays exactly and pays nothing. Every request sent is
  recorded (prompt, reply or error, tokens, cost, latency).
* **concurrency**: at most ``concurrency`` requests in flight.

Settings not passed come from the environment: ``BEAM_MODEL``; ``BEAM_BASE_URL`` or
``OPENAI_BASE_URL``; ``BEAM_API_KEY`` or ``OPENAI_API_KEY`` (``"EMPTY"`` when unset,
which local servers such as vLLM accept).
"""
from __future__ import annotations

import ast
import asyncio
import email.utils
import logging
import math
import os
import random
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import openai

from beam import prompts
from beam.catalog import Component
from beam.generators.base import GenerationError, Generator, GeneratorContext
from beam.generators.extract import (ExtractionError, extract_description, extract_module, extract_ranges,
                                     top_level_names)
from beam.program import MAX_TIME, Program, ProgramError, placeholder_index
from beam.prompts import FunctionDoc, Prompt, PromptContext
from beam.store import RunStore, text_hash

log = logging.getLogger(__name__)

ENV_MODEL = ("BEAM_MODEL",)
ENV_BASE_URL = ("BEAM_BASE_URL", "OPENAI_BASE_URL")
ENV_API_KEY = ("BEAM_API_KEY", "OPENAI_API_KEY")
DEFAULT_API_KEY = "EMPTY"
RETRY_STATUS = frozenset({408, 409, 429})
MAX_BACKOFF_S = 60.0
CHARS_PER_TOKEN = 4
MAX_WARNINGS = 200


class LLMConfigError(ValueError):
    """The generator's settings are incomplete or invalid (no model name, a negative budget...)."""


class MalformedResponse(Exception):
    """The endpoint answered 200 with a body that is not a chat completion with text."""


@dataclass(frozen=True)
class LLMSettings:
    """Where to send requests: model name, endpoint URL (None: the client's default) and API key."""

    model: str
    base_url: str | None
    api_key: str

    @classmethod
    def from_env_and_flags(cls, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                           env: Mapping[str, str] | None = None) -> LLMSettings:
        """Flags win; else the first of the environment variables that is set and not empty."""
        env = os.environ if env is None else env

        def pick(flag: str | None, names: Sequence[str]) -> str | None:
            if flag:
                return flag
            return next((env[name] for name in names if env.get(name)), None)

        chosen = pick(model, ENV_MODEL)
        if not chosen:
            raise LLMConfigError("no model name: pass --model or set BEAM_MODEL")
        return cls(model=chosen, base_url=pick(base_url, ENV_BASE_URL),
                   api_key=pick(api_key, ENV_API_KEY) or DEFAULT_API_KEY)


def prompt_key(model: str, prompt: Prompt) -> str:
    """Cache key of a request: hash of model, operation, system and user text."""
    return text_hash("\x1f".join((model, prompt.operation, prompt.system, prompt.user)))


def prompt_text(prompt: Prompt) -> str:
    """The request as stored in the run database."""
    return f"[system]\n{prompt.system}\n\n[user]\n{prompt.user}"


def function_doc(component: Component) -> FunctionDoc:
    """How a prompt lists a catalogue component."""
    return FunctionDoc(name=component.name, module=component.module, signature=component.signature,
                       doc=component.doc)


def _error_text(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    message = " ".join(str(exc).split())[:300] or type(exc).__name__
    return f"{type(exc).__name__}" + (f" {status}" if status else "") + f": {message}"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    # time-outs and dropped connections; 200s whose body is not JSON (json.JSONDecodeError,
    # a ValueError) or not a completion (validation errors, MalformedResponse)
    return isinstance(exc, (openai.APIConnectionError, openai.APIResponseValidationError, MalformedResponse,
                            ValueError))


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` / ``retry-after``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _read(response: Any) -> tuple[str, int | None, int | None]:
    """Reply text and token counts of a completion; :class:`MalformedResponse` when it is not one."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"the endpoint's answer is not a chat completion (no choices): {str(response)[:200]}")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str):
        refusal = getattr(message, "refusal", None)
        raise MalformedResponse(f"the completion holds no text{f' (refusal: {refusal})' if refusal else ''}")
    usage = getattr(response, "usage", None)

    def count(name: str) -> int | None:
        value = getattr(usage, name, None)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None

    return content, count("prompt_tokens"), count("completion_tokens")


def _docstring(doc: str) -> str:
    body = doc.strip().replace("\\", "\\\\").replace('"""', r'\"\"\"')
    lines = body.splitlines()
    if len(lines) <= 1:
        return f'    """{body}"""'
    rest = "\n".join(f"    {line}" if line.strip() else "" for line in lines[1:])
    return f'    """{lines[0]}\n{rest}\n    """'


class LLMGenerator(Generator):
    """The paper's operations answered by a chat model behind an OpenAI-compatible API."""

    name = "llm"

    def __init__(self, context: GeneratorContext, *, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, store: RunStore | None = None, concurrency: int = 4,
                 timeout_s: float = 120.0, max_retries: int = 4, backoff_s: float = 1.0,
                 token_budget: int | None = None, cost_budget: float | None = None,
                 price_per_1k_prompt: float = 0.0, price_per_1k_completion: float = 0.0,
                 temperature_override: float | None = None, max_tokens: int | None = None,
                 seed: int | None = None, alg_type: str | None = None) -> None:
        super().__init__(context)
        self.settings = LLMSettings.from_env_and_flags(model, base_url, api_key)
        checks = {"concurrency": concurrency >= 1, "timeout_s": timeout_s > 0, "max_retries": max_retries >= 0,
                  "backoff_s": backoff_s >= 0, "token_budget": token_budget is None or token_budget >= 0,
                  "cost_budget": cost_budget is None or cost_budget >= 0,
                  "prices": price_per_1k_prompt >= 0 and price_per_1k_completion >= 0,
                  "max_tokens": max_tokens is None or max_tokens >= 1}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise LLMConfigError(f"invalid LLM generator setting(s): {', '.join(bad)}")
        self.store = store
        self.concurrency = int(concurrency)
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.token_budget = token_budget
        self.cost_budget = cost_budget
        self.prices = (float(price_per_1k_prompt), float(price_per_1k_completion))
        self.temperature_override = temperature_override
        self.max_tokens = max_tokens
        self.rng = random.Random(context.seed if seed is None else seed)
        self.warnings: list[str] = []
        self._seen: Counter[str] = Counter()
        self._stats: dict[str, Any] = dict(calls=0, cached=0, prompt_tokens=0, completion_tokens=0, cost=0.0,
                                           errors=0, retries=0, failed=0, parse_errors=0, refused=0,
                                           latency_s=0.0)
        earlier = store.usage_totals() if store is not None else {}
        self._earlier_tokens = int(earlier.get("prompt_tokens", 0)) + int(earlier.get("completion_tokens", 0))
        self._earlier_cost = float(earlier.get("cost", 0.0))
        problem = context.problem
        self._base_ctx = PromptContext.from_problem(
            problem, alg_type=alg_type or str(problem.config["problem"].get("alg_type", "heuristic")))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def model(self) -> str:
        return self.settings.model

    # ----------------------------------------------------------------- plumbing

    def _prompt_context(self) -> PromptContext:
        """The prompt context as of now (the engine grows memory and knowledge during the run)."""
        ctx = self.context
        return replace(self._base_ctx, max_func_num=ctx.max_func_num,
                       heubase=[function_doc(c) for c in ctx.heubase],
                       memory=[function_doc(c) for c in ctx.memory], knowledge=list(ctx.knowledge))

    def _connection(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        """Client and semaphore of the running event loop (a new loop gets new ones)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._client is None or self._semaphore is None:
            self._client = openai.AsyncOpenAI(base_url=self.settings.base_url, api_key=self.settings.api_key,
                                              timeout=self.timeout_s, max_retries=0)
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._loop = loop
        return self._client, self._semaphore

    async def aclose(self) -> None:
        """Close the HTTP client of the current event loop."""
        client, self._client, self._loop, self._semaphore = self._client, None, None, None
        if client is not None:
            await client.close()

    def spent(self) -> tuple[int, float]:
        """Tokens and cost spent by this run so far (earlier sessions of the store included)."""
        tokens = self._earlier_tokens + self._stats["prompt_tokens"] + self._stats["completion_tokens"]
        return tokens, self._earlier_cost + self._stats["cost"]

    def _check_budget(self, operation: str) -> None:
        tokens, cost = self.spent()
        if self.token_budget is not None and tokens >= self.token_budget:
            self._stats["refused"] += 1
            raise GenerationError(f"{operation}: token budget exhausted ({tokens} of {self.token_budget} tokens "
                                  "spent); no request sent")
        if self.cost_budget is not None and cost >= self.cost_budget:
            self._stats["refused"] += 1
            raise GenerationError(f"{operation}: cost budget exhausted ({cost:.4f} of {self.cost_budget:.4f} "
                                  "spent); no request sent")

    def _backoff(self, attempt: int, exc: BaseException | None) -> float:
        delay = self.backoff_s * 2 ** (attempt - 1) * self.rng.uniform(0.5, 1.5)
        asked = _retry_after(exc) if exc is not None else None
        if asked is not None:
            delay = max(delay, asked)
        return min(MAX_BACKOFF_S, delay)

    def _record(self, prompt: Prompt, key: str, reply: str | None, *, prompt_tokens: int = 0,
                completion_tokens: int = 0, cost: float = 0.0, latency_s: float = 0.0,
                error: str | None = None) -> None:
        if self.store is not None:
            self.store.record_call(prompt.operation, prompt_text(prompt), reply, self.model,
                                   prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost=cost,
                                   latency_s=latency_s, error=error, prompt_hash=key)

    def _warn(self, message: str) -> None:
        log.warning("llm generator: %s", message)
        self.warnings.append(message)
        del self.warnings[:-MAX_WARNINGS]

    async def complete(self, prompt: Prompt) -> str:
        """The reply text to ``prompt``: replayed from the store, or asked of the endpoint."""
        key = prompt_key(self.model, prompt)
        occurrence = self._seen[key]
        self._seen[key] += 1
        if self.store is not None:
            cached = self.store.cached_replies(key, self.model)
            if occurrence < len(cached):
                self._stats["cached"] += 1
                return cached[occurrence]
        request: dict[str, Any] = dict(model=self.model, messages=prompt.messages(), temperature=prompt.temperature)
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        last: BaseException | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._stats["retries"] += 1
                await asyncio.sleep(self._backoff(attempt, last))
            self._check_budget(prompt.operation)
            client, semaphore = self._connection()
            async with semaphore:
                self._check_budget(prompt.operation)
                self._stats["calls"] += 1
                started = time.perf_counter()
                try:
                    text, used_prompt, used_completion = _read(await client.chat.completions.create(**request))
                except Exception as exc:  # noqa: BLE001 - every failure is recorded, then retried or raised
                    latency = time.perf_counter() - started
                    self._stats["errors"] += 1
                    self._stats["latency_s"] += latency
                    self._record(prompt, key, None, latency_s=latency, error=_error_text(exc))
                    last = exc
                    if not _retryable(exc):
                        self._stats["failed"] += 1
                        raise GenerationError(f"{prompt.operation}: the endpoint refused the request: "
                                              f"{_error_text(exc)}") from None
                    continue
            latency = time.perf_counter() - started
            if used_prompt is None:
                used_prompt = math.ceil(len(prompt.system + prompt.user) / CHARS_PER_TOKEN)
            if used_completion is None:
                used_completion = math.ceil(len(text) / CHARS_PER_TOKEN)
            cost = used_prompt / 1000 * self.prices[0] + used_completion / 1000 * self.prices[1]
            self._stats["prompt_tokens"] += used_prompt
            self._stats["completion_tokens"] += used_completion
            self._stats["cost"] += cost
            self._stats["latency_s"] += latency
            self._record(prompt, key, text, prompt_tokens=used_prompt, completion_tokens=used_completion,
                         cost=cost, latency_s=latency)
            return text
        self._stats["failed"] += 1
        raise GenerationError(f"{prompt.operation}: no usable answer from {self.model} after "
                              f"{self.max_retries + 1} attempt(s); last error: {_error_text(last or Exception())}")

    def usage(self) -> dict[str, Any]:
        """Requests sent (``calls``, failed ones in ``errors``), replays (``cached``), ``retries``,
        operations given up (``failed``) or refused by a budget (``refused``), replies rejected by parsing
        (``parse_errors``), tokens, cost and latency of the requests sent."""
        return {"model": self.model, **self._stats}

    # ----------------------------------------------------------------- reply checks

    def _rejected(self, message: str) -> ExtractionError:
        self._stats["parse_errors"] += 1
        return ExtractionError(message)

    def _program(self, code: str) -> Program:
        try:
            return Program.parse(code)
        except ProgramError as exc:
            raise self._rejected(f"the reply's module is not a usable program: {exc}") from None

    def _extract(self, reply: str, must_define: Sequence[str]) -> str:
        try:
            return extract_module(reply, must_define)
        except ExtractionError as exc:
            raise self._rejected(str(exc)) from None

    def _keep_max_time(self, program: Program, value: float) -> Program:
        """``program`` with ``MAX_TIME`` put back to ``value`` (the time limit is not the model's to change)."""
        current = program.hyperparameters()[MAX_TIME]
        if math.isclose(float(current.value), float(value), rel_tol=1e-12, abs_tol=0.0):
            return program
        self._warn(f"the reply changed {MAX_TIME} from {value} to {current.value}; restored")
        return program.with_hyperparameters({MAX_TIME: value}, allow_max_time=True)

    def _given(self, program: str) -> Program:
        try:
            return Program.parse(program)
        except ProgramError as exc:
            raise GenerationError(f"the program handed to the generator is malformed: {exc}") from None

    def _structure(self, reply: str) -> str:
        entry = self.context.problem.entry
        program = self._program(self._extract(reply, [entry]))
        return self._keep_max_time(program, self._base_ctx.timeout).source

    # ----------------------------------------------------------------- operations

    async def initial_structure(self, index: int) -> str:
        prompt = prompts.initial_structure(self._prompt_context(), temperature=self.temperature_override)
        return self._structure(await self.complete(prompt))

    async def crossover(self, worse: str, better: str) -> str:
        prompt = prompts.crossover(self._prompt_context(), worse, better, temperature=self.temperature_override)
        return self._structure(await self.complete(prompt))

    async def mutate(self, current: str, elite: str) -> str:
        prompt = prompts.mutation(self._prompt_context(), current, elite, temperature=self.temperature_override)
        return self._structure(await self.complete(prompt))

    async def fill_one(self, program: str, index: int, previous: list[str]) -> str:
        original = self._given(program)
        name = f"func_{index}"
        if isinstance(index, bool) or not isinstance(index, int) or name not in original.functions():
            raise GenerationError(f"fill_one: the program has no placeholder {name}")
        prompt = prompts.fill_one(self._prompt_context(), program, index, list(previous),
                                  temperature=self.temperature_override)
        code = self._extract(await self.complete(prompt), [name])
        if self.context.problem.entry in top_level_names(code):
            result = self._program(code)
        else:   # only the function came back: put it into the program
            try:
                result = original.with_function(name, code)
            except ProgramError as exc:
                raise self._rejected(f"the reply holds {name} without the rest of the module, and it does not "
                                     f"fit the program: {exc}") from None
        found = next((p for p in result.placeholders() if p.name == name), None)
        if found is None:
            raise self._rejected(f"the reply's module no longer defines {name}")
        if not found.realised:
            raise self._rejected(f"the reply leaves {name} a placeholder (its body is still only comments and pass)")
        return self._keep_max_time(result, original.hyperparameters()[MAX_TIME].value).source

    async def fill_all(self, program: str) -> str:
        original = self._given(program)
        names = [p.name for p in original.unrealised()]
        prompt = prompts.fill_all(self._prompt_context(), program, temperature=self.temperature_override)
        result = self._program(self._extract(await self.complete(prompt), [self.context.problem.entry, *names]))
        left = [p.name for p in result.unrealised()]
        if left:
            raise self._rejected(f"the reply leaves {', '.join(left)} unrealised (body still only comments and pass)")
        return self._keep_max_time(result, original.hyperparameters()[MAX_TIME].value).source

    async def fix(self, program: str, error: str) -> str:
        try:
            max_time = float(Program.parse(program).hyperparameters()[MAX_TIME].value)
        except ProgramError:
            max_time = self._base_ctx.timeout
        prompt = prompts.fix(self._prompt_context(), program, error, temperature=self.temperature_override)
        result = self._program(self._extract(await self.complete(prompt), [self.context.problem.entry]))
        return self._keep_max_time(result, max_time).source

    async def parameter_ranges(self, program: str) -> dict[str, tuple[float, float]]:
        original = self._given(program)
        tunable = [name for name in original.hyperparameters() if name != MAX_TIME]
        if not tunable:
            return {}
        prompt = prompts.parameter_ranges(program, temperature=self.temperature_override)
        notes: list[str] = []
        try:
            ranges = extract_ranges(await self.complete(prompt), notes)
        except ExtractionError as exc:
            raise self._rejected(str(exc)) from None
        for note in notes:
            self._warn(f"parameter_ranges: {note}")
        unknown = [name for name in ranges if name not in tunable]
        for name in unknown:
            self._warn(f"parameter_ranges: {name} is not a tunable hyperparameter of the program; dropped")
        kept = {name: ranges[name] for name in tunable if name in ranges}
        if not kept:
            raise self._rejected(f"the reply gives ranges for none of the hyperparameters {', '.join(tunable)}")
        return kept

    async def describe(self, function: str) -> str:
        try:
            tree = ast.parse(textwrap.dedent(function))
        except (SyntaxError, ValueError, RecursionError) as exc:
            raise GenerationError(f"describe: the given code does not parse: {exc}") from None
        node = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
        if node is None:
            raise GenerationError("describe: the given code defines no function")
        prompt = prompts.describe(function, temperature=self.temperature_override)
        try:
            name, doc = extract_description(await self.complete(prompt))
        except ExtractionError as exc:
            raise self._rejected(str(exc)) from None
        if placeholder_index(name) is not None or name == self.context.problem.entry:
            raise self._rejected(f"the reply names the function {name!r}; a new descriptive name is needed")
        returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
        return f"def {name}({ast.unparse(node.args)}){returns}:\n{_docstring(doc)}\n"
