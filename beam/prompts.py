"""Render the prompts of the paper's appendix D from the jinja2 templates in ``prompts/``.

One function per generator operation; each returns a :class:`Prompt` (system
text, user text, sampling temperature) and never talks to a model::

    >>> ctx = PromptContext(problem="bin packing", alg_type="heuristic",
    ...                     description="Pack items into few bins.",
    ...                     signature="def solve(items: list[float]) -> list[int]: ...",
    ...                     timeout=1.0)
    >>> p = fix(ctx, "def solve(items):\\n    return 1 / 0\\n", "ZeroDivisionError: division by zero")
    >>> p.operation, p.temperature
    ('fix', 0.7)
    >>> "ZeroDivisionError" in p.user and "MAX_TIME = 1.0" in p.user
    True

Templates live in ``<repo>/prompts`` (override with ``BEAM_PROMPTS_DIR``) and are
rendered with ``StrictUndefined``: a variable a template needs but is not given
raises :class:`jinja2.UndefinedError` instead of vanishing from the prompt.
"""
from __future__ import annotations

import ast
import functools
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

PROMPTS_ENV = "BEAM_PROMPTS_DIR"
DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"

# Paper, Table XIII: 0.7 for fixing, 1.0 for every other call.
DEFAULT_TEMPERATURE = 1.0
TEMPERATURES = {"fix": 0.7}

# Size caps (characters) for inputs that can grow without bound. Programs are
# never cut: the model must see, and return, the complete module.
ERROR_LIMIT = 4000          # keep the head (what failed) and mostly the tail (the traceback's end)
ERROR_HEAD = 600
PREVIOUS_LIMIT = 6000       # each earlier realisation shown to fill_one
NOTE_LIMIT = 4000           # each KnoBase note
DOC_LIMIT = 2000            # each library docstring
FUNCTION_LIMIT = 12000      # the function handed to describe()


@dataclass
class FunctionDoc:
    """A library function as a prompt shows it: import path, signature and docstring.

    ``signature`` may be a full ``def`` line or just ``(args) -> ret``; ``module``
    is the dotted module to import it from (``heubase.eplb.pack``, ``memory.<name>``).
    """

    name: str
    module: str
    signature: str
    doc: str


@dataclass
class PromptContext:
    """What every prompt about one problem needs to know."""

    problem: str                  # display name, e.g. "EPLB (expert-parallelism load balancing)"
    alg_type: str                 # "heuristic", "solver", ...
    description: str              # the problem statement (description.md)
    signature: str                # the entry function's signature text (signature.py)
    timeout: float                # MAX_TIME, seconds per call
    max_func_num: int = 4         # most placeholders a structure may declare
    heubase: list[FunctionDoc] = field(default_factory=list)
    memory: list[FunctionDoc] = field(default_factory=list)
    knowledge: list[str] = field(default_factory=list)   # retrieved KnoBase note texts

    @property
    def entry(self) -> str:
        """Name of the entry function declared in :attr:`signature`."""
        return entry_name(self.signature)

    @classmethod
    def from_problem(cls, problem: Any, *, alg_type: str = "heuristic", max_func_num: int = 4,
                     heubase: list[FunctionDoc] | None = None, memory: list[FunctionDoc] | None = None,
                     knowledge: list[str] | None = None) -> PromptContext:
        """Build a context from a :class:`beam.problem.Problem` (its description, signature and MAX_TIME)."""
        head = problem.config["problem"]
        description = problem.file("description").read_text(encoding="utf-8")
        title = re.match(r"#\s+(.+)", description.lstrip())
        return cls(problem=title.group(1).strip() if title else problem.name, alg_type=alg_type,
                   description=description,
                   signature=problem.file("signature").read_text(encoding="utf-8"),
                   timeout=head["max_time_s"], max_func_num=max_func_num,
                   heubase=list(heubase or []), memory=list(memory or []), knowledge=list(knowledge or []))


@dataclass
class Prompt:
    """One model call: which operation, the system and user messages, the temperature."""

    operation: str
    system: str
    user: str
    temperature: float

    def messages(self) -> list[dict[str, str]]:
        """OpenAI-style chat messages."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


# ----------------------------------------------------------------------------- helpers

def truncate(text: str, limit: int, head: int | None = None) -> str:
    """Cut ``text`` to about ``limit`` characters, keeping ``head`` characters of its start and
    the rest from its end, with a marker saying how much was left out in between.

    ``head=None`` keeps only the start.

    >>> truncate("a" * 10 + "b" * 10, 12, head=4)
    'aaaa\\n[... 8 characters omitted ...]\\nbbbbbbbb'
    """
    if len(text) <= limit:
        return text
    head = limit if head is None else max(0, min(head, limit))
    tail = limit - head
    omitted = len(text) - head - tail
    marker = f"[... {omitted} characters omitted ...]"
    parts = [text[:head], marker] if head else [marker]
    if tail:
        parts.append(text[len(text) - tail:])
    return "\n".join(parts)


def fence(text: str, lang: str = "python") -> str:
    """A Markdown code block around ``text``, with a fence longer than any backtick run inside it."""
    text = str(text)   # a jinja2 StrictUndefined raises here, as it should
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.strip(chr(10))}\n{ticks}"


def entry_name(signature: str) -> str:
    """Name of the first function defined in a signature text (``"the entry function"`` if none)."""
    try:
        for node in ast.parse(signature).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node.name
    except SyntaxError:
        pass
    match = re.search(r"def\s+([A-Za-z_]\w*)", signature)
    return match.group(1) if match else "the entry function"


def import_line(doc: FunctionDoc) -> str:
    """``from <module> import <name>``."""
    return f"from {doc.module} import {doc.name}"


def stub(doc: FunctionDoc) -> str:
    """``def`` line plus docstring, as a library listing shows a function (no body)."""
    sig = " ".join(doc.signature.strip().split()).rstrip(":").rstrip()
    if sig.startswith(("def ", "async def ")):
        line = sig
    elif sig.startswith("("):
        line = f"def {doc.name}{sig}"
    elif sig.startswith(f"{doc.name}("):
        line = f"def {sig}"
    elif "(" in sig:
        line = f"def {sig}"
    else:
        line = f"def {doc.name}({sig or '...'})"
    body = truncate(inspect.cleandoc(doc.doc or "").strip(), DOC_LIMIT).replace('"""', r'\"\"\"')
    if not body:
        return f"{line}:\n    ..."
    lines = body.splitlines()
    indented = "\n".join(f"    {item}" if item.strip() else "" for item in lines)
    if len(lines) == 1:
        return f'{line}:\n    """{body}"""'
    return f'{line}:\n    """{indented.lstrip()}\n    """'


def prompts_dir() -> Path:
    """The template folder: ``$BEAM_PROMPTS_DIR`` if set, else ``<repo>/prompts``."""
    override = os.environ.get(PROMPTS_ENV)
    return Path(override).expanduser().resolve() if override else DEFAULT_PROMPTS_DIR


@functools.lru_cache(maxsize=8)
def _environment(folder: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fence=fence, import_line=import_line, stub=stub)
    return env


def render(template_name: str, **variables: Any) -> str:
    """Render ``prompts/<template_name>`` (the ``.j2`` suffix may be left out)."""
    if not template_name.endswith(".j2"):
        template_name += ".j2"
    return _environment(str(prompts_dir())).get_template(template_name).render(**variables)


def _temperature(operation: str, override: float | None) -> float:
    return float(override) if override is not None else TEMPERATURES.get(operation, DEFAULT_TEMPERATURE)


def _context_vars(ctx: PromptContext) -> dict[str, Any]:
    return dict(problem=ctx.problem, alg_type=ctx.alg_type, description=ctx.description,
                signature=ctx.signature, entry=ctx.entry, timeout=ctx.timeout,
                max_func_num=ctx.max_func_num, heubase=list(ctx.heubase), memory=list(ctx.memory),
                knowledge=[truncate(note.strip(), NOTE_LIMIT) for note in ctx.knowledge if note.strip()])


def _prompt(operation: str, system: str, user: str, temperature: float | None, **variables: Any) -> Prompt:
    return Prompt(operation=operation, system=render(system), user=render(user, **variables),
                  temperature=_temperature(operation, temperature))


# ----------------------------------------------------------------------------- operations

def initial_structure(ctx: PromptContext, *, temperature: float | None = None) -> Prompt:
    """Design a new structure from scratch (population initialisation)."""
    return _prompt("initial_structure", "system_generator", "exterior_user_generator", temperature,
                   **_context_vars(ctx))


def crossover(ctx: PromptContext, worse: str, better: str, *, temperature: float | None = None) -> Prompt:
    """A child structure from two parents; ``better`` scored higher than ``worse``."""
    return _prompt("crossover", "system_generator", "crossover", temperature,
                   **_context_vars(ctx), worse=worse, better=better)


def mutation(ctx: PromptContext, current: str, elite: str, *, temperature: float | None = None) -> Prompt:
    """Elitist mutation: a variant of ``current`` inspired by the best structure ``elite``."""
    return _prompt("mutation", "system_generator", "mutation", temperature,
                   **_context_vars(ctx), current=current, elite=elite)


def fill_one(ctx: PromptContext, program: str, index: int, previous: list[str], *,
             temperature: float | None = None) -> Prompt:
    """Realise ``func_<index>`` only, differently from each of the ``previous`` realisations."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 1:
        raise ValueError(f"placeholder index must be a positive int, got {index!r}")
    shown = [truncate(code.strip("\n"), PREVIOUS_LIMIT) for code in previous if code.strip()]
    return _prompt("fill_one", "func_generation", "fill_one", temperature,
                   **_context_vars(ctx), program=program, index=index, previous=shown)


def fill_all(ctx: PromptContext, program: str, *, temperature: float | None = None) -> Prompt:
    """Realise every placeholder still in ``program`` (one-shot education)."""
    return _prompt("fill_all", "func_generation", "fill_all", temperature, **_context_vars(ctx), program=program)


def fix(ctx: PromptContext, program: str, error: str, last_good: str | None = None, *,
        temperature: float | None = None) -> Prompt:
    """Repair ``program`` given its ``error`` (traceback or evaluator message); ``last_good`` is an
    earlier version that ran, shown as a hint."""
    return _prompt("fix", "fix_system", "fix", temperature, **_context_vars(ctx), program=program,
                   error=truncate(error.strip("\n"), ERROR_LIMIT, head=ERROR_HEAD),
                   last_good=last_good if last_good and last_good.strip() else None)


def parameter_ranges(program: str, *, temperature: float | None = None) -> Prompt:
    """Ask for a ``pms_dict`` of ``name -> (low, high)`` search intervals for calibration."""
    return _prompt("parameter_ranges", "ask_pms_system", "ask_pms_interval", temperature, program=program)


def describe(function_code: str, *, temperature: float | None = None) -> Prompt:
    """Ask for a name and an Args/Returns docstring for a function entering the adaptive memory."""
    return _prompt("describe", "am_system", "am", temperature,
                   function_code=truncate(function_code.strip("\n"), FUNCTION_LIMIT))


OPERATIONS = ("initial_structure", "crossover", "mutation", "fill_one", "fill_all", "fix",
              "parameter_ranges", "describe")
