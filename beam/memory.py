"""Adaptive memory (BEAM paper, section III-C, Eq. 5-6, Algorithm 3): a small pool of elite functions.

The memory keeps realised placeholder functions that appeared in elite programs,
each as a standalone importable module (``memory/<name>.py``), so later
skeletons import them instead of regenerating them. It is pure bookkeeping:
the engine hands it candidates and usage reports, records the returned
:class:`MemoryEvent` objects in the run store, and writes the package.

Scores (Eq. 5, 6). For a function ``f`` of the *pool* (the memory entries and
this update's candidates that are not in memory), with every feature min-max
normalised over the pool (a feature equal across the pool normalises to 0)::

    S(f)  = a1*fit + a2*nov + a3*use - a4*age          fit: fitness of the program f came from
    U*(f) = lambda_*S(f) + (1 - lambda_)*ema           ema: normalised EMA of improvements

``nov = 1 - max sim(f, g)`` over the memory entries ``g`` other than ``f``
(1 when there are none), ``use`` the number of programs that used ``f``, ``age``
the generations since ``f`` entered the memory.

>>> memory = AdaptiveMemory(MemoryConfig(capacity=4))
>>> program = "import math\\n\\n\\ndef func_1(x):\\n    return math.sqrt(x)\\n"
>>> events = memory.update([Candidate("def func_1(x):\\n    return math.sqrt(x)\\n", "func_1", program, 1.0)], 0,
...                        name_for=lambda c: "root")
>>> [(e.event, e.function_name) for e in events], memory.get("root").function
([('insert', 'root')], 'def root(x):\\n    return math.sqrt(x)\\n')
"""
from __future__ import annotations

import ast
import builtins
import copy
import difflib
import functools
import hashlib
import inspect
import io
import keyword
import math
import shutil
import textwrap
import tokenize
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import Assignment, MetadataWrapper, ScopeProvider

from beam.program import Program, ProgramError, placeholder_index
from beam.store import MEMORY_EVENTS

PACKAGE = "memory"
"""Import name of the written package: ``from memory.<name> import <name>``."""


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class MemoryConfig:
    """Coefficients of Algorithm 3 (names follow the paper).

    capacity (C_max) entries at most; tau: similarity above which a candidate
    competes with its nearest entry; delta_th: margin by which it must beat it;
    a1..a4: weights of fitness, novelty, usage and age in S (Eq. 5); lambda_:
    weight of S against the improvement EMA in U* (Eq. 6); ema_beta: weight of
    the past in that EMA; t_idle: generations without use before an entry may be
    pruned; epsilon: prune threshold on U*; top_elites (E): elites mined per update.
    """

    capacity: int = 8
    tau: float = 0.85
    delta_th: float = 0.02
    a1: float = 1.0
    a2: float = 0.3
    a3: float = 0.2
    a4: float = 0.1
    lambda_: float = 0.7
    ema_beta: float = 0.5
    t_idle: int = 3
    epsilon: float = 0.05
    top_elites: int = 3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            wanted = int if f.type in ("int", int) else float
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (wanted is int and not isinstance(value, int)) or not math.isfinite(value):
                raise ValueError(f"memory config {f.name} must be a finite {wanted.__name__}, got {value!r}")
        for name in ("capacity", "t_idle", "top_elites"):
            if getattr(self, name) < 1:
                raise ValueError(f"memory config {name} must be at least 1")
        for name in ("tau", "lambda_", "ema_beta"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"memory config {name} must lie in [0, 1]")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> MemoryConfig:
        """Build from a mapping such as a ``[memory]`` TOML table (``lambda`` is accepted for ``lambda_``)."""
        values = {("lambda_" if key == "lambda" else key): value for key, value in (values or {}).items()}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown memory setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(f.name for f in fields(cls))}")
        return cls(**values)


# ----------------------------------------------------------------------------- value types


@dataclass
class MemoryEntry:
    """One stored function: ``source`` is its standalone module, ``function`` its own ``def``."""

    name: str
    source: str
    function: str
    doc: str = ""
    signature: str = ""
    fitness: float = 0.0
    usage: int = 0
    age: int = 0
    ema_improvement: float = 0.0
    last_used_generation: int | None = None
    inserted_generation: int = 0
    score: float = 0.0
    program_id: int | None = None
    origin: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """A row for :meth:`beam.store.RunStore.save_memory` (fields without a column go in ``meta``)."""
        return {"name": self.name, "source": self.source, "description": self.doc, "signature": self.signature,
                "score": self.score, "fitness": self.fitness, "usage": self.usage, "age": self.age,
                "ema_improvement": self.ema_improvement, "last_used_generation": self.last_used_generation,
                "program_id": self.program_id,
                "meta": {"function": self.function, "inserted_generation": self.inserted_generation,
                         "origin": self.origin, "extra": dict(self.meta)}}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> MemoryEntry:
        """Inverse of :meth:`to_row` (accepts rows from :meth:`beam.store.RunStore.load_memory`)."""
        meta = dict(row.get("meta") or {})
        name, source = row["name"], row["source"]
        function = meta.pop("function", None) or _function_text(source, name)
        fitness = row.get("fitness")
        return cls(name=name, source=source, function=function, doc=row.get("description") or "",
                   signature=row.get("signature") or _def_line(function),
                   fitness=float("nan") if fitness is None else float(fitness),
                   usage=int(row.get("usage") or 0), age=int(row.get("age") or 0),
                   ema_improvement=float(row.get("ema_improvement") or 0.0),
                   last_used_generation=row.get("last_used_generation"),
                   inserted_generation=int(meta.pop("inserted_generation", 0) or 0),
                   score=float(row.get("score") or 0.0), program_id=row.get("program_id"),
                   origin=meta.pop("origin", "") or "", meta=dict(meta.pop("extra", {}) or {}) | meta)


@dataclass(frozen=True)
class Candidate:
    """A realised placeholder of an elite program, offered to the memory."""

    function: str                 # the function's own source, as in the program
    origin: str                   # placeholder name in the program, e.g. "func_2"
    program: str                  # source of the whole program
    fitness: float                # the program's fitness
    program_id: int | None = None
    purpose: str = ""             # the placeholder's "# Purpose:" text

    @property
    def label(self) -> str:
        """How events name a candidate that got no name: ``func_2@12``."""
        return f"{self.origin}@{self.program_id if self.program_id is not None else '?'}"


@dataclass(frozen=True)
class MemoryEvent:
    """One memory change; ``event`` is one of :data:`beam.store.MEMORY_EVENTS`."""

    event: str
    function_name: str
    score: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    program_id: int | None = None
    generation: int = 0

    def __post_init__(self) -> None:
        if self.event not in MEMORY_EVENTS:
            raise ValueError(f"unknown memory event {self.event!r}")

    def to_record(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`beam.store.RunStore.record_memory_event`."""
        return asdict(self)


# ----------------------------------------------------------------------------- similarity

_STRUCTURE = {"INDENT": "<indent>", "DEDENT": "<dedent>"}
_SKIP = {"COMMENT", "NL", "ENCODING", "ENDMARKER", "FSTRING_MIDDLE", "FSTRING_END"}
_FIXED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


def _char_column(lines: Sequence[str], lineno: int, byte_col: int) -> int:
    """Character column of an ast byte offset."""
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def _name_roles(code: str) -> tuple[frozenset[str], frozenset[tuple[int, int]]] | None:
    """Names bound inside ``code`` and positions of keyword-argument names; None if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    lines = code.splitlines()
    bound: set[str] = set()
    declared: set[str] = set()
    kwargs: set[tuple[int, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.keyword) and node.arg is not None:
            kwargs.add((node.lineno, _char_column(lines, node.lineno, node.col_offset)))
    return frozenset(bound - declared), frozenset(kwargs)


@functools.lru_cache(maxsize=4096)
def code_tokens(code: str) -> tuple[str, ...]:
    """The normalised token sequence :func:`similarity` compares.

    Comments, blank lines and spacing are dropped; indentation is kept as
    ``<indent>``/``<dedent>`` and line ends as ``<nl>``; numbers become
    ``<num>``, strings ``<str>``, and string statements (docstrings) vanish.
    Names bound inside the code (parameters, local variables, the function's own
    name, nested definitions) become ``<v0>, <v1>…`` in order of first
    appearance, so a consistent renaming leaves the sequence unchanged. Free
    names (imported functions, module helpers, hyperparameters, builtins),
    attribute names and keyword-argument names are kept: they say *what* is
    computed. Code that does not parse maps every other name to ``<id>``.
    """
    code = textwrap.dedent(code)
    roles = _name_roles(code)
    bound, kwargs = roles if roles is not None else (frozenset(), frozenset())
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return tuple(code.split())
    out: list[str] = []
    local: dict[str, str] = {}
    start = 0                      # where the current statement's tokens begin in ``out``
    previous = ""
    for tok in raw:
        kind = tokenize.tok_name[tok.type]
        if kind in _SKIP:
            continue
        if kind in _STRUCTURE:
            out.append(_STRUCTURE[kind])
            start = len(out)
        elif kind == "NEWLINE":
            if out[start:] and all(t == "<str>" for t in out[start:]):
                del out[start:]    # a bare string statement: docstring
            else:
                out.append("<nl>")
            start = len(out)
        elif kind == "NUMBER":
            out.append("<num>")
        elif kind in ("STRING", "FSTRING_START"):
            out.append("<str>")
        elif kind == "NAME":
            name = tok.string
            if previous == "." or tok.start in kwargs or (name in _FIXED and name not in bound):
                out.append(name)
            elif name in bound:
                out.append(local.setdefault(name, f"<v{len(local)}>"))
            else:
                out.append(name if roles is not None else "<id>")
        else:
            out.append(tok.string)
        previous = tok.string
    return tuple(out)


def similarity(a: str, b: str) -> float:
    """Structural similarity of two functions' code, in [0, 1].

    ``difflib.SequenceMatcher`` ratio of the :func:`code_tokens` sequences
    (``2 * matched / total``), computed in a fixed order so it is symmetric.
    Renamed local variables, changed numbers, comments and spacing give 1.0.

    >>> similarity("def f(x):\\n    return x * 2  # double\\n", "def g(y):\\n    return y * 3\\n")
    1.0
    """
    ta, tb = code_tokens(a), code_tokens(b)
    if ta == tb:
        return 1.0
    if not ta or not tb:
        return 0.0
    first, second = sorted((ta, tb))
    return difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()


# ----------------------------------------------------------------------------- source surgery


class _Collect(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.nodes.append(node)
        return True


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    collect = _Collect()
    node.visit(collect)
    return collect.nodes


class _RenameNodes(cst.CSTTransformer):
    """Give the Name nodes whose ids are listed a new value."""

    def __init__(self, ids: set[int], new: str) -> None:
        super().__init__()
        self.ids, self.new = ids, new

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return updated_node.with_changes(value=self.new) if id(original_node) in self.ids else updated_node


def _parse(source: str, what: str) -> cst.Module:
    try:
        compile(source, f"<{what}>", "exec", dont_inherit=True)
        return cst.parse_module(source)
    except (SyntaxError, ValueError, cst.ParserSyntaxError) as exc:
        raise ProgramError(f"{what} does not parse: {' '.join(str(exc).split())}") from None


def _scopes(module: cst.Module) -> Mapping[cst.CSTNode, Any]:
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)


def _global_uses(module: cst.Module) -> tuple[dict[str, list[int]], list[set[str]]]:
    """Top-level statements binding each global name, and the global names each statement reads."""
    owner = {id(node): index for index, stmt in enumerate(module.body) for node in _walk(stmt)}
    binders: dict[str, list[int]] = {}
    reads: list[set[str]] = [set() for _ in module.body]
    for assignment in _scopes(module)[module].assignments:
        index = owner.get(id(assignment.node))
        if not isinstance(assignment, Assignment) or index is None:
            continue
        if index not in binders.setdefault(assignment.name, []):
            binders[assignment.name].append(index)
        for access in assignment.references:
            if (at := owner.get(id(access.node))) is not None:
                reads[at].add(assignment.name)
    return binders, reads


def _bound_by(alias: cst.ImportAlias, is_from: bool) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    dotted = get_full_name_for_node(alias.name) or ""
    return dotted if is_from else dotted.split(".")[0]


def _only_imports(stmt: cst.BaseStatement, wanted: set[str]) -> list[cst.BaseSmallStatement]:
    """The import statements of a line reduced to the aliases binding ``wanted`` names."""
    kept: list[cst.BaseSmallStatement] = []
    for small in getattr(stmt, "body", ()):
        if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
            continue
        aliases = [a for a in small.names if _bound_by(a, isinstance(small, cst.ImportFrom)) in wanted]
        if aliases and isinstance(small, cst.ImportFrom) and small.relative:
            raise ProgramError(f"{_bound_by(aliases[0], True)!r} comes from a relative import")
        if aliases:
            aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            kept.append(small.with_changes(names=aliases, semicolon=cst.MaybeSentinel.DEFAULT))
    return kept


def _is_import_line(stmt: cst.BaseStatement) -> bool:
    body = getattr(stmt, "body", None)
    return isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in body)


def _copyable(stmt: cst.BaseStatement) -> bool:
    """A definition or a line of plain assignments (a constant)."""
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return True
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Assign, cst.AnnAssign, cst.AugAssign)) for s in stmt.body)


def _closure(module: cst.Module, name: str) -> tuple[list[int], set[str]]:
    """Statements to copy and imported names needed by the top-level function ``name``."""
    binders, reads = _global_uses(module)
    if not any(isinstance(module.body[i], cst.FunctionDef) for i in binders.get(name, [])):
        raise ProgramError(f"the program has no module-level function {name!r}")
    copied: set[int] = set()
    imported: set[str] = set()
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for index in binders.get(current, []):
            stmt = module.body[index]
            if _is_import_line(stmt):
                imported.add(current)
            elif _copyable(stmt):
                if index not in copied:
                    copied.add(index)
                    todo.extend(sorted(reads[index]))
            else:
                raise ProgramError(f"{current!r} is bound by an unsupported {type(stmt).__name__} statement")
    return sorted(copied), imported


def _undefined(module: cst.Module) -> list[str]:
    """Names read but bound nowhere (builtins count as bound)."""
    missing: set[str] = set()
    for scope in {id(s): s for s in _scopes(module).values() if s is not None}.values():
        missing.update(a.node.value for a in scope.accesses if not a.referents and isinstance(a.node, cst.Name))
    return sorted(missing)


def _rename_global(source: str, old: str, new: str) -> str:
    """``source`` with the module-level ``old`` (its definition and every reference) called ``new``."""
    check_name(new)
    module = _parse(source, "memory module")
    if old == new:
        return source
    if any(isinstance(n, cst.Name) and n.value == new for n in _walk(module)):
        raise ProgramError(f"cannot rename {old!r} to {new!r}: the module already uses that name")
    ids: set[int] = set()
    for assignment in _scopes(module)[module].assignments[old]:
        node = assignment.node
        ids.add(id(node.name) if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else id(node))
        ids.update(id(a.node) for a in assignment.references if isinstance(a.node, cst.Name))
    return module.visit(_RenameNodes(ids, new)).code


def _find_def(module: cst.Module, name: str) -> cst.FunctionDef:
    found = [s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
    if not found:
        raise ProgramError(f"the module defines no function {name!r}")
    return found[-1]


def _function_text(source: str, name: str) -> str:
    """Source of the top-level function ``name`` of a module (no leading blank lines)."""
    module = _parse(source, "memory module")
    return module.code_for_node(_find_def(module, name).with_changes(leading_lines=()))


def _def_line(function: str) -> str:
    """One-line ``def name(args) -> ret:`` of a function's source."""
    node = ast.parse(textwrap.dedent(function)).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ProgramError("not a function definition")
    header = copy.copy(node)
    header.body, header.decorator_list = [ast.Pass()], []
    return ast.unparse(header).split("\n")[0]


def _docstring_literal(doc: str, indent: str) -> str:
    text = inspect.cleandoc(doc).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.split("\n")
    if len(lines) == 1:
        return f'"""{text}"""'
    rest = "\n".join(indent + line if line.strip() else "" for line in lines[1:])
    return f'"""{lines[0]}\n{rest}\n{indent}"""'


def _with_docstring(source: str, name: str, doc: str) -> str:
    """``source`` with the docstring of top-level function ``name`` set to ``doc`` (added if missing)."""
    module = _parse(source, "memory module")
    func = _find_def(module, name)
    if not isinstance(func.body, cst.IndentedBlock) or not doc.strip():
        return source
    indent = func.body.indent if func.body.indent is not None else module.default_indent
    line = cst.SimpleStatementLine([cst.Expr(cst.SimpleString(_docstring_literal(doc, indent)))])
    statements = list(func.body.body)
    first = statements[0] if statements else None
    if isinstance(first, cst.SimpleStatementLine) and len(first.body) == 1 and isinstance(first.body[0], cst.Expr) \
            and isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
        statements[0] = line.with_changes(leading_lines=first.leading_lines)
    else:
        statements.insert(0, line)
    new = func.with_changes(body=func.body.with_changes(body=statements))
    out = module.with_changes(body=[new if s is func else s for s in module.body]).code
    _parse(out, "memory module")
    return out


def _docstring(function: str) -> str:
    try:
        node = ast.parse(textwrap.dedent(function)).body[0]
    except (SyntaxError, IndexError):
        return ""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    return ast.get_docstring(node) or ""


def check_name(name: str) -> str:
    """``name`` if it can name a memory function and its module, else ValueError.

    It must be a public identifier, not a keyword and not ``func_<i>``.
    """
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) \
            or name.startswith("_") or placeholder_index(name) is not None or name == PACKAGE:
        raise ProgramError(f"{name!r} cannot name a memory function (use a public snake_case identifier, "
                           "not func_<i>)")
    return name


def function_module(program_source: str, function_name: str, new_name: str) -> str:
    """A standalone module defining ``new_name``: the program's ``function_name``, renamed.

    It holds exactly what the function needs from the program, in the
    program's order: the imports it uses (only the names it uses), the
    module-level constants it reads (hyperparameters copied with their current
    values), and the module-level helper functions and classes it calls,
    transitively. Only the function itself is renamed (with its recursive
    references). Raises :class:`ProgramError` when the result would not compile
    or would read an undefined name.
    """
    check_name(new_name)
    module = _parse(program_source, "program")
    copied, imported = _closure(module, function_name)
    parts: list[str] = []
    if any(isinstance(s, cst.ImportFrom) and s.module is not None
           and get_full_name_for_node(s.module) == "__future__"
           for stmt in module.body if _is_import_line(stmt) for s in stmt.body):
        parts.append("from __future__ import annotations\n")
    for stmt in module.body:
        if _is_import_line(stmt):
            for small in _only_imports(stmt, imported):
                parts.append(module.code_for_node(cst.SimpleStatementLine([small])))
    previous_def = True
    for index in copied:
        stmt = module.body[index].with_changes(leading_lines=())
        is_def = isinstance(stmt, (cst.FunctionDef, cst.ClassDef))
        gap = "\n\n" if parts and (is_def or previous_def) else ""
        parts.append(gap + module.code_for_node(stmt))
        previous_def = is_def
    source = "\n".join(p.rstrip("\n") for p in parts) + "\n"
    source = _rename_global(source, function_name, new_name)
    missing = _undefined(_parse(source, f"module of {new_name}"))
    if missing:
        raise ProgramError(f"the module of {new_name} would read undefined name(s) {', '.join(missing)}")
    return source


# ----------------------------------------------------------------------------- candidates


def extract_candidates(elites: Sequence[tuple[str, float, int | None]], top: int) -> list[Candidate]:
    """Realised placeholders of the ``top`` best ``(source, fitness, program_id)`` programs.

    Programs with a non-finite fitness or that do not parse are skipped; a
    function whose source already came from a better program is not repeated.
    """
    ranked = sorted((e for e in elites if e[1] is not None and math.isfinite(e[1])), key=lambda e: -e[1])
    found: list[Candidate] = []
    seen: set[str] = set()
    used = 0
    for source, fitness, program_id in ranked:
        if used >= top:
            break
        try:
            program = Program.parse(source)
        except ProgramError:
            continue
        used += 1
        for placeholder in program.placeholders():
            function = program.function_source(placeholder.name)
            if placeholder.realised and function not in seen:
                seen.add(function)
                found.append(Candidate(function, placeholder.name, source, float(fitness), program_id,
                                       placeholder.purpose))
    return found


def default_name(candidate: Candidate) -> str:
    """A content-derived name, ``mem_<8 hex>``, until the generator describes the function."""
    return "mem_" + hashlib.sha256(" ".join(code_tokens(candidate.function)).encode()).hexdigest()[:8]


def _candidate_order(candidate: Candidate) -> tuple:
    pid = candidate.program_id
    fitness = candidate.fitness if math.isfinite(candidate.fitness) else -math.inf
    return (-fitness, pid is None, pid or 0, candidate.origin, candidate.function)


def _minmax(value: float, column: Iterable[float]) -> float:
    """``value`` min-max normalised over ``column`` (and itself); 0 when there is no spread or it is not finite."""
    if not math.isfinite(value):
        return 0.0
    finite = [v for v in column if math.isfinite(v)] + [value]
    low, high = min(finite), max(finite)
    return 0.0 if high <= low else (value - low) / (high - low)


@dataclass(frozen=True)
class _Item:
    """A pool member's raw features."""

    key: str
    function: str
    fitness: float
    usage: float
    age: float
    ema: float


# ----------------------------------------------------------------------------- the memory


class AdaptiveMemory:
    """Algorithm 3 over a dict of :class:`MemoryEntry`; every method is deterministic."""

    def __init__(self, config: MemoryConfig | None = None, entries: Iterable[MemoryEntry] = (),
                 similarity: Callable[[str, str], float] = similarity) -> None:
        self.config = config or MemoryConfig()
        self._similarity = similarity
        self._sims: dict[tuple[str, str], float] = {}
        self._entries: dict[str, MemoryEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"two memory entries are named {entry.name!r}")
            self._entries[entry.name] = entry

    # -- reading

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> MemoryEntry | None:
        """The entry called ``name``, or None."""
        return self._entries.get(name)

    def entries(self) -> list[MemoryEntry]:
        """All entries, best score first (ties by name)."""
        return sorted(self._entries.values(), key=lambda e: (-e.score, e.name))

    def listing(self) -> list[dict[str, str]]:
        """``name, module, signature, doc`` of each entry, best first: the fields of a prompt's FunctionDoc."""
        return [{"name": e.name, "module": f"{PACKAGE}.{e.name}", "signature": e.signature, "doc": e.doc}
                for e in self.entries()]

    # -- Eq. 5 and 6

    def sim(self, a: str, b: str) -> float:
        """Cached :func:`similarity` of two functions' sources."""
        key = (a, b) if a <= b else (b, a)
        if key not in self._sims:
            self._sims[key] = float(self._similarity(*key))
        return self._sims[key]

    def score(self, fitness: float, novelty: float, usage: float, age: float,
              pool: Sequence[Sequence[float]]) -> float:
        """Eq. 5: ``a1*fit + a2*nov + a3*use - a4*age``, each min-max normalised over ``pool``.

        ``pool`` holds the ``(fitness, novelty, usage, age)`` of every function
        compared (the scored one is counted in even if missing).
        """
        c = self.config
        columns = list(zip(*pool)) if pool else [(), (), (), ()]
        fit, nov, use, old = (_minmax(v, col) for v, col in zip((fitness, novelty, usage, age), columns))
        return c.a1 * fit + c.a2 * nov + c.a3 * use - c.a4 * old

    def _novelty(self, function: str, others: Iterable[MemoryEntry]) -> float:
        return 1.0 - max((self.sim(function, e.function) for e in others), default=0.0)

    def _assess(self, waiting: Mapping[str, Candidate]) -> dict[str, tuple[float, float]]:
        """``key -> (S, U*)`` for every entry (by name) and waiting candidate (by key)."""
        entries = list(self._entries.values())
        items = [_Item(e.name, e.function, e.fitness, e.usage, e.age, e.ema_improvement) for e in entries]
        items += [_Item(k, c.function, c.fitness, 0, 0, 0.0) for k, c in waiting.items()]
        novelty = {e.name: self._novelty(e.function, (o for o in entries if o is not e)) for e in entries}
        novelty.update({k: self._novelty(c.function, entries) for k, c in waiting.items()})
        features = [(i.fitness, novelty[i.key], i.usage, i.age) for i in items]
        emas = [i.ema for i in items]
        lam = self.config.lambda_
        out = {}
        for item, feats in zip(items, features):
            s = self.score(*feats, pool=features)
            out[item.key] = (s, lam * s + (1 - lam) * _minmax(item.ema, emas))
        return out

    def utility(self, entry: MemoryEntry | str) -> float:
        """Eq. 6: ``U* = lambda_*S + (1 - lambda_)*ema``, over the pool of the current entries.

        The EMA of improvements is min-max normalised over the pool like the
        features of S, so both terms live on the same [0, 1]-based scale.
        """
        name = entry if isinstance(entry, str) else entry.name
        if name not in self._entries:
            raise KeyError(name)
        return self._assess({})[name][1]

    # -- Algorithm 3

    def update(self, candidates: Iterable[Candidate], generation: int,
               name_for: Callable[[Candidate], str] = default_name) -> list[MemoryEvent]:
        """Algorithm 3: offer ``candidates`` (e.g. :func:`extract_candidates`), then evict and prune.

        Candidates go best fitness first. Each gets S over the pool; if its most
        similar entry g* (ties: first name) has similarity > tau (or exactly 1),
        it replaces g* when S(f) > S(g*) + delta_th and is discarded otherwise;
        else it is inserted. An identical-structure replacement (similarity 1)
        keeps g*'s name, doc, usage and EMA; any other new entry is named by
        ``name_for`` (made unique with ``_2``, ``_3``…). Then, while over
        capacity, the entry with the smallest U* (ties: first name) is evicted;
        finally every entry unused for ``t_idle`` generations with U* < epsilon
        is pruned. Ages are ``generation - inserted_generation``.
        """
        self._sims.clear()
        for entry in self._entries.values():
            entry.age = max(0, generation - entry.inserted_generation)
        ordered = sorted(candidates, key=_candidate_order)
        waiting = {f"#{k}": c for k, c in enumerate(ordered)}
        events: list[MemoryEvent] = []
        for key, candidate in list(waiting.items()):
            events.append(self._offer(key, candidate, waiting, generation, name_for))
        events += self._evict(waiting, generation)
        events += self._prune(waiting, generation)
        for name, (s, _) in self._assess(waiting).items():
            if name in self._entries:
                self._entries[name].score = s
        return events

    def _offer(self, key: str, candidate: Candidate, waiting: dict[str, Candidate], generation: int,
               name_for: Callable[[Candidate], str]) -> MemoryEvent:
        def event(kind: str, name: str, score: float | None, **detail: Any) -> MemoryEvent:
            return MemoryEvent(kind, name, score, {"origin": candidate.origin, **detail},
                               candidate.program_id, generation)

        if not math.isfinite(candidate.fitness):
            del waiting[key]
            return event("discard", candidate.label, None, reason="fitness is not finite")
        assessed = self._assess(waiting)
        s_f = assessed[key][0]
        nearest, sim = self._nearest(candidate.function)
        if nearest is None or not (sim > self.config.tau or sim >= 1.0):
            name = self._free_name(candidate, name_for)
            made = self._make(candidate, name, generation, s_f)
            if isinstance(made, str):
                return event("discard", candidate.label, s_f, reason=made)
            del waiting[key]
            self._entries[name] = made
            return event("insert", name, s_f, similarity=sim, nearest=nearest.name if nearest else None)
        s_g = assessed[nearest.name][0]
        if not s_f > s_g + self.config.delta_th:
            return event("discard", candidate.label, s_f, similar_to=nearest.name, similarity=sim,
                         needed=s_g + self.config.delta_th)
        keep = nearest if sim >= 1.0 else None
        name = nearest.name if keep else self._free_name(candidate, name_for, nearest.name)
        made = self._make(candidate, name, generation, s_f, keep)
        if isinstance(made, str):
            return event("discard", candidate.label, s_f, reason=made, similar_to=nearest.name)
        del waiting[key], self._entries[nearest.name]
        self._entries[name] = made
        return event("replace", name, s_f, replaced=nearest.name, similarity=sim, replaced_score=s_g)

    def _nearest(self, function: str) -> tuple[MemoryEntry | None, float]:
        ranked = sorted(self._entries.values(), key=lambda e: (-self.sim(function, e.function), e.name))
        return (ranked[0], self.sim(function, ranked[0].function)) if ranked else (None, 0.0)

    def _free_name(self, candidate: Candidate, name_for: Callable[[Candidate], str],
                   ignore: str | None = None) -> str:
        """``name_for(candidate)`` (or :func:`default_name` if that is unusable), made unique."""
        try:
            base = check_name(name_for(candidate))
        except (ProgramError, ValueError, TypeError):
            base = default_name(candidate)
        name, taken = base, set(self._entries) - {ignore}
        k = 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name

    def _standalone(self, program: str) -> str:
        """``program`` with imports of memory functions inlined, so entries never import each other."""
        try:
            parsed = Program.parse(program)
        except ProgramError:       # not a skeleton (no hyperparameter block): take it as it is
            return program
        if not parsed.memory_imports(PACKAGE):
            return program

        def resolve(module: str) -> str:
            if module == PACKAGE:
                return "".join(f"from {PACKAGE}.{n} import {n}\n" for n in sorted(self._entries))
            name = module.removeprefix(PACKAGE + ".")
            if name not in self._entries:
                raise ProgramError(f"memory function {module} is no longer in the memory")
            return self._entries[name].source

        return str(parsed.inline_imports((PACKAGE + ".",), resolve))

    def _make(self, candidate: Candidate, name: str, generation: int, score: float,
              keep: MemoryEntry | None = None) -> MemoryEntry | str:
        """A new entry from ``candidate`` (taking over ``keep``'s doc and usage), or why it cannot be made."""
        try:
            source = function_module(self._standalone(candidate.program), candidate.origin, name)
            if keep is not None and keep.doc:
                source = _with_docstring(source, name, keep.doc)
            function = _function_text(source, name)
            signature = _def_line(function)
        except (ProgramError, SyntaxError, ValueError) as exc:
            return f"cannot extract {candidate.origin}: {exc}"
        entry = MemoryEntry(name=name, source=source, function=function,
                            doc=_docstring(function) or candidate.purpose, signature=signature,
                            fitness=candidate.fitness, inserted_generation=generation, score=score,
                            program_id=candidate.program_id, origin=candidate.origin)
        if keep is not None:
            entry = replace(entry, doc=keep.doc or entry.doc, usage=keep.usage, ema_improvement=keep.ema_improvement,
                            last_used_generation=keep.last_used_generation, meta=dict(keep.meta))
        return entry

    def _evict(self, waiting: Mapping[str, Candidate], generation: int) -> list[MemoryEvent]:
        events = []
        while len(self._entries) > self.config.capacity:
            assessed = self._assess(waiting)
            victim = min(self._entries.values(), key=lambda e: (assessed[e.name][1], e.name))
            del self._entries[victim.name]
            s, u = assessed[victim.name]
            events.append(MemoryEvent("evict", victim.name, s, {"utility": u}, victim.program_id, generation))
        return events

    def _prune(self, waiting: Mapping[str, Candidate], generation: int) -> list[MemoryEvent]:
        assessed = self._assess(waiting)
        events = []
        for entry in sorted(self._entries.values(), key=lambda e: e.name):
            last = entry.last_used_generation if entry.last_used_generation is not None else entry.inserted_generation
            idle = generation - last
            s, u = assessed[entry.name]
            if idle >= self.config.t_idle and u < self.config.epsilon:
                del self._entries[entry.name]
                events.append(MemoryEvent("prune", entry.name, s, {"utility": u, "idle": idle},
                                          entry.program_id, generation))
        return events

    # -- feedback and naming

    def record_use(self, names: Iterable[str], improvement: float, generation: int) -> list[MemoryEvent]:
        """Count one use of each named entry by a program whose fitness gain over its parent is ``improvement``.

        ``usage`` grows by one, ``last_used_generation`` becomes ``generation`` and
        ``ema <- ema_beta*ema + (1 - ema_beta)*max(0, improvement)``: a worse child
        counts as no gain (most GA children are worse, whatever they import); a
        non-finite improvement counts as 0. Unknown names are ignored.
        """
        gain = max(0.0, improvement) if math.isfinite(improvement) else 0.0
        beta = self.config.ema_beta
        events = []
        for name in sorted(set(names)):
            entry = self._entries.get(name)
            if entry is None:
                continue
            entry.usage += 1
            entry.last_used_generation = generation
            entry.ema_improvement = beta * entry.ema_improvement + (1 - beta) * gain
            events.append(MemoryEvent("use", name, entry.score, {"improvement": improvement, "usage": entry.usage,
                                                                "ema_improvement": entry.ema_improvement},
                                      entry.program_id, generation))
        return events

    def rename(self, old: str, new: str, doc: str | None = None) -> MemoryEntry:
        """Give entry ``old`` the name ``new`` and, when given, ``doc`` as its docstring (after ``describe``)."""
        entry = self._entries.get(old)
        if entry is None:
            raise KeyError(old)
        if new != old and new in self._entries:
            raise ValueError(f"a memory entry is already named {new!r}")
        source = _rename_global(entry.source, old, new)
        if doc is not None and doc.strip():
            doc = inspect.cleandoc(doc)
            source = _with_docstring(source, new, doc)
        function = _function_text(source, new)
        updated = replace(entry, name=new, source=source, function=function, signature=_def_line(function),
                          doc=doc if doc is not None and doc.strip() else entry.doc)
        del self._entries[old]
        self._entries[new] = updated
        return updated

    # -- persistence

    def write_package(self, folder: str | Path) -> Path:
        """Write ``folder/memory/`` (``__init__.py`` re-exporting every ``<name>.py``); stale modules go."""
        package = Path(folder) / PACKAGE
        package.mkdir(parents=True, exist_ok=True)
        names = sorted(self._entries)
        files = {f"{n}.py": self._entries[n].source for n in names}
        files["__init__.py"] = ('"""Adaptive memory: functions that did well in earlier generations '
                                '(written by beam.memory)."""\n'
                                + "".join(f"from .{n} import {n}\n" for n in names)
                                + f"\n__all__ = {names!r}\n")
        changed = False
        for path in package.glob("*.py"):
            if path.name not in files:
                path.unlink()
                changed = True
        for filename, text in files.items():
            path = package / filename
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                changed = True
        if changed:
            shutil.rmtree(package / "__pycache__", ignore_errors=True)
        return package

    def to_rows(self) -> list[dict[str, Any]]:
        """Rows for :meth:`beam.store.RunStore.save_memory`, best first."""
        return [e.to_row() for e in self.entries()]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], config: MemoryConfig | None = None) -> AdaptiveMemory:
        """A memory from :meth:`beam.store.RunStore.load_memory` rows."""
        return cls(config, [MemoryEntry.from_row(r) for r in rows])
