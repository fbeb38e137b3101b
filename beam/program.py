"""Source-level model of a skeleton: placeholders, hyperparameters, imports and edits.

A :class:`Program` wraps a libcst module, so every edit keeps the comments and
formatting of the code it does not touch, and an unedited program prints back
byte for byte. The pieces follow DESIGN.md ("Contracts" → "Skeleton"):

* hyperparameters are the module-level numeric constants between two
  ``#Hyperparameter#`` comment lines; a trailing ``# int`` marks an integer one,
  and ``MAX_TIME`` is always among them;
* a placeholder is a module-level ``def func_<i>(...)``; it is *unrealised* while
  its body is only comments (its ``# Purpose:``), a docstring and ``pass``;
* HeuBase and memory functions are imported, never redefined.

All parsing and editing goes through libcst (never regular expressions).
Malformed input raises :class:`ProgramError` with a one-line message.
"""
from __future__ import annotations

import builtins
import functools
import importlib.util
import math
import numbers
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import libcst as cst
import networkx as nx
from libcst.helpers import get_full_name_for_node
from libcst.metadata import Assignment, MetadataWrapper, PositionProvider, ScopeProvider

MARKER = "#Hyperparameter#"
MAX_TIME = "MAX_TIME"
PLACEHOLDER_PREFIX = "func_"
PURPOSE_TAG = "Purpose:"
HEUBASE_PREFIX = "heubase."
DEFAULT_INDENT = "    "

Resolver = Callable[[str], str]
"""Maps a dotted module name to its source text (used by :meth:`Program.inline_imports`)."""


class ProgramError(ValueError):
    """A program or an edit of it is malformed; the message is one line, fit to show a generator."""


# ----------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class Placeholder:
    """A ``func_<i>`` function of a skeleton, realised or not."""

    index: int
    name: str
    signature: str
    params: tuple[str, ...]
    purpose: str
    realised: bool
    purpose_lines: tuple[str, ...] = ()

    def stub(self, indent: str = DEFAULT_INDENT) -> str:
        """The unrealised form: the signature, the ``# Purpose:`` comment lines and ``pass``."""
        comments = list(self.purpose_lines)
        if not comments and self.purpose:
            comments = [f"# {PURPOSE_TAG} {self.purpose}"]
        lines = [self.signature, *(indent + line for line in comments), indent + "pass"]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.stub()


@dataclass(frozen=True)
class Hyperparameter:
    """A numeric constant of the ``#Hyperparameter#`` block."""

    name: str
    value: int | float
    is_int: bool = False
    bounds: tuple[float, float] | None = None
    """The calibration range the skeleton's author declared (``# range LO HI``), if any."""

    def __str__(self) -> str:
        notes = (["int"] if self.is_int else []) + (
            [f"range {_format_number(self.bounds[0], self.is_int)} {_format_number(self.bounds[1], self.is_int)}"]
            if self.bounds else [])
        return f"{self.name} = {_format_number(self.value, self.is_int)}" + (f"  # {', '.join(notes)}" if notes else "")


def _declared_bounds(words: list[str], where: str) -> tuple[float, float] | None:
    """``(lo, hi)`` from ``... range LO HI ...`` in a hyperparameter's comment words, else None."""
    lowered = [w.lower() for w in words]
    if "range" not in lowered:
        return None
    at = lowered.index("range")
    try:
        lo, hi = float(words[at + 1]), float(words[at + 2])
    except (IndexError, ValueError):
        raise ProgramError(f"{where}: write the range as '# range LO HI' (two numbers)") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ProgramError(f"{where}: range {words[at + 1]} {words[at + 2]} must be finite with LO <= HI")
    return lo, hi


@dataclass(frozen=True)
class ImportRef:
    """One imported name: ``from module import name as asname`` (``name`` is None for ``import module``)."""

    module: str
    name: str | None = None
    asname: str | None = None

    @property
    def bound(self) -> str:
        """The name this import binds in the importing module."""
        return self.asname or self.name or self.module.split(".")[0]

    def __str__(self) -> str:
        alias = f" as {self.asname}" if self.asname else ""
        if self.name is None:
            return f"import {self.module}{alias}"
        return f"from {self.module} import {self.name}{alias}"


# ----------------------------------------------------------------------------- small helpers


def placeholder_index(name: str) -> int | None:
    """``i`` when ``name`` is ``func_<i>``, else None."""
    suffix = name[len(PLACEHOLDER_PREFIX):]
    if name.startswith(PLACEHOLDER_PREFIX) and suffix.isascii() and suffix.isdigit():
        return int(suffix)
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parse_module(source: str, what: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise ProgramError(f"{what} has a syntax error at line {exc.raw_line}, column {exc.raw_column + 1}: "
                           f"{_one_line(exc.message)}") from None
    except (ValueError, RecursionError) as exc:
        raise ProgramError(f"{what} cannot be parsed: {_one_line(exc)}") from None


def _check_compiles(source: str, what: str) -> None:
    try:
        compile(source, f"<{what}>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ProgramError(f"{what} has a syntax error at line {exc.lineno}: {_one_line(exc.msg)}") from None
    except ValueError as exc:  # e.g. null bytes
        raise ProgramError(f"{what} cannot be compiled: {_one_line(exc)}") from None


def _is_marker(line: cst.EmptyLine) -> bool:
    return line.comment is not None and "".join(line.comment.value.split()) == MARKER


def _comment_text(comment: cst.Comment) -> str:
    return comment.value.lstrip("#").strip()


def _format_number(value: object, is_int: bool) -> str:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProgramError(f"hyperparameter value {value!r} is not a number")
    if isinstance(value, numbers.Integral):
        return str(int(value)) if is_int else repr(float(value))
    number = float(value)
    if not math.isfinite(number):
        raise ProgramError(f"hyperparameter value {value!r} is not finite")
    return str(int(round(number))) if is_int else repr(number)


def _number_of(node: cst.BaseExpression) -> int | float | None:
    """Value of an int/float literal (optionally signed), else None."""
    sign = 1
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        sign = -1 if isinstance(node.operator, cst.Minus) else 1
        node = node.expression
    if isinstance(node, (cst.Integer, cst.Float)):
        return sign * node.evaluated_value
    return None


def _dotted(node: cst.BaseExpression) -> str:
    name = get_full_name_for_node(node)
    if name is None:
        raise ProgramError("unsupported import target")
    return name


def _import_refs(node: cst.Import | cst.ImportFrom, package: str | None = None) -> list[ImportRef]:
    """The names an import statement binds; relative modules are resolved against ``package`` if given."""
    def asname(alias: cst.ImportAlias) -> str | None:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            return alias.asname.name.value
        return None

    if isinstance(node, cst.Import):
        return [ImportRef(_dotted(alias.name), None, asname(alias)) for alias in node.names]
    module = "." * len(node.relative) + (_dotted(node.module) if node.module is not None else "")
    if node.relative and package:
        try:
            module = importlib.util.resolve_name(module, package)
        except (ImportError, ValueError) as exc:
            raise ProgramError(f"cannot resolve relative import {module!r} in {package}: {exc}") from None
    if isinstance(node.names, cst.ImportStar):
        return [ImportRef(module, "*", None)]
    return [ImportRef(module, _dotted(alias.name), asname(alias)) for alias in node.names]


def _with_smalls(stmt: cst.SimpleStatementLine, smalls: list[cst.BaseSmallStatement]) -> cst.SimpleStatementLine:
    """``stmt`` holding only ``smalls`` (no dangling ``;`` at the end)."""
    return stmt.with_changes(body=[*smalls[:-1], smalls[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])


def _small(stmt: cst.CSTNode) -> Sequence[cst.BaseSmallStatement]:
    return stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ()


def _is_import_line(stmt: cst.CSTNode) -> bool:
    smalls = _small(stmt)
    return bool(smalls) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in smalls)


def _is_docstring_line(stmt: cst.CSTNode) -> bool:
    smalls = _small(stmt)
    return (len(smalls) == 1 and isinstance(smalls[0], cst.Expr)
            and isinstance(smalls[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _is_trivial(small: cst.BaseSmallStatement) -> bool:
    """``pass``, ``...`` or a bare string (docstring)."""
    if isinstance(small, cst.Pass):
        return True
    return isinstance(small, cst.Expr) and isinstance(
        small.value, (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis))


def _is_stub_body(func: cst.FunctionDef) -> bool:
    body = func.body
    if isinstance(body, cst.SimpleStatementSuite):
        return all(_is_trivial(s) for s in body.body)
    return all(isinstance(stmt, cst.SimpleStatementLine) and all(_is_trivial(s) for s in stmt.body)
               for stmt in body.body)


def _param_names(func: cst.FunctionDef, stars: bool = False) -> list[str]:
    params = func.params
    names = [p.name.value for p in (*params.posonly_params, *params.params)]
    if isinstance(params.star_arg, cst.Param):
        names.append(("*" if stars else "") + params.star_arg.name.value)
    names += [p.name.value for p in params.kwonly_params]
    if params.star_kwarg is not None:
        names.append(("**" if stars else "") + params.star_kwarg.name.value)
    return names


def _purpose(func: cst.FunctionDef) -> tuple[str, tuple[str, ...]]:
    """Joined text and raw lines of the ``# Purpose:`` comment(s) at the top of a body."""
    comments: list[cst.Comment | None] = []
    body = func.body
    if isinstance(body, cst.IndentedBlock):
        if body.header.comment is not None:
            comments.append(body.header.comment)
        if body.body:
            comments += [line.comment for line in body.body[0].leading_lines]
    elif body.trailing_whitespace.comment is not None:
        comments.append(body.trailing_whitespace.comment)
    lines: list[str] = []
    texts: list[str] = []
    inside = False
    for comment in comments:
        if comment is None:
            inside = False
            continue
        text = _comment_text(comment)
        if text.startswith(PURPOSE_TAG):
            inside = True
            text = text[len(PURPOSE_TAG):].strip()
        if inside:
            lines.append(comment.value)
            if text:
                texts.append(text)
    return " ".join(texts), tuple(lines)


def _blank_lines(count: int = 2) -> list[cst.EmptyLine]:
    return [cst.EmptyLine() for _ in range(count)]


def _comment_lines(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    return [line for line in lines if line.comment is not None]


def _trim_footer(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """Drop the blank lines that end a compound statement's block (they belong to what followed it)."""
    body = getattr(stmt, "body", None)
    if not isinstance(body, cst.IndentedBlock):
        return stmt
    footer = list(body.footer)
    while footer and footer[-1].comment is None:
        footer.pop()
    return stmt.with_changes(body=body.with_changes(footer=footer))


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Every node under ``node`` (itself included), in source order."""
    found: list[cst.CSTNode] = []

    class _Collect(cst.CSTVisitor):
        def on_visit(self, child: cst.CSTNode) -> bool:
            found.append(child)
            return True

    node.visit(_Collect())
    return found


class _PinIndent(cst.CSTTransformer):
    """Give every block that uses the module default indent an explicit one (for moves between modules)."""

    def __init__(self, indent: str) -> None:
        super().__init__()
        self.indent = indent

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if updated_node.indent is None:
            return updated_node.with_changes(indent=self.indent)
        return updated_node


class _Renamer(cst.CSTTransformer):
    """Rename given Name nodes and function/class definitions, chosen by node identity."""

    def __init__(self, names: Mapping[int, str], defs: Mapping[int, str]) -> None:
        super().__init__()
        self.names, self.defs = names, defs

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.names.get(id(original_node))
        return updated_node.with_changes(value=new) if new and new != updated_node.value else updated_node

    def _rename_def(self, original_node: cst.CSTNode, updated_node: cst.FunctionDef | cst.ClassDef):
        new = self.defs.get(id(original_node))
        if new and new != updated_node.name.value:
            return updated_node.with_changes(name=updated_node.name.with_changes(value=new))
        return updated_node

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        return self._rename_def(original_node, updated_node)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        return self._rename_def(original_node, updated_node)


class _DropImports(cst.CSTTransformer):
    """Remove imports of prefixed modules (a block left empty gets ``pass``)."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine):
        keep = [s for s in updated_node.body if not (
            isinstance(s, (cst.Import, cst.ImportFrom))
            and any(_matches(ref.module, self.prefixes) for ref in _import_refs(s)))]
        if len(keep) == len(updated_node.body):
            return updated_node
        if not keep:
            return cst.RemovalSentinel.REMOVE
        return _with_smalls(updated_node, keep)


def _default_resolver(module: str) -> str:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise ProgramError(f"cannot find module {module}: {_one_line(exc)}") from None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ProgramError(f"cannot find the Python source of module {module}")
    return Path(spec.origin).read_text(encoding="utf-8")


def _matches(module: str, prefixes: Sequence[str]) -> bool:
    return any(module.startswith(p) or module == p.rstrip(".") for p in prefixes)


# ----------------------------------------------------------------------------- the program


@dataclass
class _Analysis:
    """Scope and position metadata of one module, computed on demand."""

    scopes: Mapping[cst.CSTNode, object]
    positions: Mapping[cst.CSTNode, object]
    global_scope: object
    function_of: dict[int, str]   # node id -> enclosing module-level function name


class Program:
    """A skeleton or solver module; immutable, every edit returns a new Program.

    Build one with :meth:`parse`; ``str(program)`` gives the source back.
    """

    def __init__(self, module: cst.Module) -> None:
        self._module = module
        self._source = module.code
        self._block = self._find_block()
        self._hyper = self._read_hyperparameters()
        self._analysis: _Analysis | None = None

    # -- construction and text

    @classmethod
    def parse(cls, source: str) -> Program:
        """Parse a skeleton; raises :class:`ProgramError` on a syntax error or a malformed hyperparameter block."""
        _check_compiles(source, "program")
        return cls(_parse_module(source, "program"))

    @property
    def source(self) -> str:
        """The module's source text."""
        return self._source

    @property
    def module(self) -> cst.Module:
        """The underlying libcst module (read-only by nature)."""
        return self._module

    def __str__(self) -> str:
        return self._source

    def __repr__(self) -> str:
        names = ", ".join(p.name + ("" if p.realised else "?") for p in self.placeholders())
        return f"<Program {len(self._source)} chars, placeholders: {names or 'none'}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Program) and other._source == self._source

    def __hash__(self) -> int:
        return hash(self._source)

    def _statement_line(self, index: int) -> int:
        body = self._module.body
        if index >= len(body):
            return self._source.count("\n") + 1
        wrapper = MetadataWrapper(self._module, unsafe_skip_copy=True)
        return wrapper.resolve(PositionProvider)[body[index]].start.line

    # -- hyperparameters

    def _find_block(self) -> tuple[int, int]:
        module = self._module
        found = [0 for line in module.header if _is_marker(line)]
        for index, stmt in enumerate(module.body):
            own = [line for line in stmt.leading_lines if _is_marker(line)]
            found += [index] * len(own)
            if isinstance(stmt, cst.SimpleStatementLine):
                continue
            inner = sum(1 for node in _walk(stmt) if isinstance(node, cst.EmptyLine) and _is_marker(node))
            if inner > len(own):
                raise ProgramError(f"a '{MARKER}' line must be at module level, not inside the statement at line "
                                   f"{self._statement_line(index)}")
        found += [len(module.body)] * sum(1 for line in module.footer if _is_marker(line))
        if not found:
            raise ProgramError(f"no hyperparameter block: expected two '{MARKER}' lines around the module-level "
                               f"constants (including {MAX_TIME})")
        if len(found) != 2:
            raise ProgramError(f"unbalanced hyperparameter block: found {len(found)} '{MARKER}' line(s), "
                               "expected exactly 2")
        return found[0], found[1]

    def _read_hyperparameters(self) -> dict[str, tuple[int, Hyperparameter]]:
        start, end = self._block
        values: dict[str, tuple[int, Hyperparameter]] = {}
        for index in range(start, end):
            stmt = self._module.body[index]
            smalls = _small(stmt)
            target = value = None
            if len(smalls) == 1 and isinstance(smalls[0], cst.Assign) and len(smalls[0].targets) == 1:
                target, value = smalls[0].targets[0].target, smalls[0].value
            elif len(smalls) == 1 and isinstance(smalls[0], cst.AnnAssign) and smalls[0].value is not None:
                target, value = smalls[0].target, smalls[0].value
            number = _number_of(value) if value is not None else None
            if not isinstance(target, cst.Name) or number is None:
                text = _one_line(self._module.code_for_node(stmt.with_changes(leading_lines=())))
                raise ProgramError(f"hyperparameter block, line {self._statement_line(index)}: {text!r} is not "
                                   "'NAME = <int or float literal>'")
            comment = stmt.trailing_whitespace.comment
            words = _comment_text(comment).replace(",", " ").split() if comment is not None else []
            is_int = bool(words) and words[0].lower() == "int"
            bounds = _declared_bounds(words, f"hyperparameter {target.value} (line {self._statement_line(index)})")
            if target.value in values:
                raise ProgramError(f"hyperparameter {target.value} is assigned twice")
            values[target.value] = (index, Hyperparameter(target.value, number, is_int, bounds))
        if MAX_TIME not in values:
            raise ProgramError(f"the hyperparameter block must define {MAX_TIME}")
        return values

    def hyperparameters(self) -> dict[str, Hyperparameter]:
        """Name → :class:`Hyperparameter`, in block order."""
        return {name: hp for name, (_, hp) in self._hyper.items()}

    def with_hyperparameters(self, values: Mapping[str, float | int], allow_max_time: bool = False) -> Program:
        """New values for some hyperparameters (``# int`` ones are rounded; their comment stays).

        Unknown names raise :class:`ProgramError`; so does a new ``MAX_TIME``
        unless ``allow_max_time`` (passing its current value is accepted).
        """
        unknown = sorted(set(values) - set(self._hyper))
        if unknown:
            raise ProgramError(f"unknown hyperparameter(s) {', '.join(unknown)}; known: {', '.join(self._hyper)}")
        body = list(self._module.body)
        for name, value in values.items():
            index, current = self._hyper[name]
            text = _format_number(value, current.is_int)
            if name == MAX_TIME and not allow_max_time and text != _format_number(current.value, current.is_int):
                raise ProgramError(f"{MAX_TIME} is the solver's time limit and is not tunable "
                                   "(pass allow_max_time=True to change it)")
            stmt = body[index]
            small = stmt.body[0]
            body[index] = stmt.with_changes(body=[small.with_changes(value=cst.parse_expression(text))])
        return self._rebuilt(self._module.with_changes(body=body), "program with new hyperparameters")

    # -- functions and placeholders

    def _function_index(self, name: str) -> int:
        for index, stmt in enumerate(self._module.body):
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                return index
        raise ProgramError(f"the program has no module-level function {name!r}")

    def functions(self) -> list[str]:
        """Names of the module-level functions, in source order."""
        return [s.name.value for s in self._module.body if isinstance(s, cst.FunctionDef)]

    def function_source(self, name: str) -> str:
        """Source of a module-level function (decorators to the end of its body, no leading blank lines)."""
        func = self._module.body[self._function_index(name)]
        return self._module.code_for_node(func.with_changes(leading_lines=()))

    def function_span(self, name: str) -> tuple[int, int]:
        """``(start, end)`` character offsets of :meth:`function_source` inside :attr:`source`."""
        index = self._function_index(name)
        module = self._module
        before = module.with_changes(body=module.body[:index], footer=(), has_trailing_newline=True).code
        func = module.body[index]
        start = len(before) + sum(len(module.code_for_node(line)) for line in func.leading_lines)
        return start, min(len(self._source), start + len(self.function_source(name)))

    def _signature(self, func: cst.FunctionDef) -> str:
        header = func.with_changes(leading_lines=(), decorators=(), body=cst.SimpleStatementSuite(
            body=[cst.Pass()], leading_whitespace=cst.SimpleWhitespace("")))
        return self._module.code_for_node(header).rstrip("\r\n").removesuffix("pass")

    def placeholders(self) -> list[Placeholder]:
        """Every module-level ``func_<i>``, realised or not, sorted by index."""
        found = []
        for stmt in self._module.body:
            if isinstance(stmt, cst.FunctionDef) and (index := placeholder_index(stmt.name.value)) is not None:
                purpose, lines = _purpose(stmt)
                found.append(Placeholder(index, stmt.name.value, self._signature(stmt), tuple(_param_names(stmt)),
                                         purpose, not _is_stub_body(stmt), lines))
        return sorted(found, key=lambda p: p.index)

    def unrealised(self) -> list[Placeholder]:
        """Placeholders whose body is still only comments, a docstring and ``pass``."""
        return [p for p in self.placeholders() if not p.realised]

    def placeholder_stub(self, placeholder: Placeholder) -> str:
        """The unrealised form of ``placeholder``, indented like this module."""
        return placeholder.stub(self._module.default_indent)

    # -- imports

    def imports(self) -> list[ImportRef]:
        """Names imported by module-level import statements, in source order."""
        refs: list[ImportRef] = []
        for stmt in self._module.body:
            for small in _small(stmt):
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    refs += _import_refs(small)
        return refs

    def heubase_imports(self) -> list[ImportRef]:
        """Imports from ``heubase.*`` modules."""
        return [r for r in self.imports() if _matches(r.module, (HEUBASE_PREFIX,))]

    def memory_imports(self, prefix: str = "memory") -> list[ImportRef]:
        """Imports from the memory package ``prefix`` (the package itself or its submodules)."""
        return [r for r in self.imports() if r.module == prefix or r.module.startswith(prefix + ".")]

    def _bindings(self) -> dict[str, str]:
        """Module-level name → its kind: import, function, class, hyperparameter or constant."""
        bound: dict[str, str] = {}
        for stmt in self._module.body:
            if isinstance(stmt, cst.FunctionDef):
                bound[stmt.name.value] = "function"
            elif isinstance(stmt, cst.ClassDef):
                bound[stmt.name.value] = "class"
            for small in _small(stmt):
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    bound.update((ref.bound, "import") for ref in _import_refs(small))
                elif isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                    for target in targets:
                        for node in _walk(target):
                            if isinstance(node, cst.Name):
                                bound[node.value] = "constant"
        bound.update((name, "hyperparameter") for name in self._hyper)
        return bound

    # -- editing functions

    def _rebuilt(self, module: cst.Module, what: str) -> Program:
        source = module.code
        _check_compiles(source, what)
        return Program(_parse_module(source, what))

    def with_function(self, name: str, new_source: str) -> Program:
        """Replace the module-level function ``name`` by the one defined in ``new_source``.

        ``new_source`` must define ``name`` exactly once at top level, with the same
        parameter names in the same order (annotations and defaults may change).
        Besides it, it may hold:

        * imports: merged into the module's imports when not already there (a
          ``__future__`` import is dropped; a star, relative or conflicting import
          is an error);
        * helper functions, classes and module-level constants: inserted just before
          the function, in their order. A helper with the name of an existing
          non-placeholder function or class replaces it in place; clashing with a
          placeholder, an import, a hyperparameter or a constant is an error;
        * a docstring and an ``if __name__ == "__main__":`` block, which are dropped.

        Anything else raises :class:`ProgramError`. Comment lines above the ``def``
        are dropped: the function keeps the blank lines and comments that preceded
        the old one, so every byte outside the function (and its helpers and new
        imports) is unchanged.
        """
        index = self._function_index(name)
        old = self._module.body[index]
        what = f"replacement for {name}"
        new_source = textwrap.dedent(new_source)
        _check_compiles(new_source, what)
        parsed = _parse_module(new_source, what)
        if parsed.default_indent != self._module.default_indent:
            parsed = parsed.visit(_PinIndent(parsed.default_indent))
        defs = [s for s in parsed.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
        if not defs:
            others = [s.name.value for s in parsed.body if isinstance(s, cst.FunctionDef)]
            found = f"found def {', '.join(others)}" if others else "found no function definition"
            raise ProgramError(f"{what} defines no function {name!r} ({found})")
        if len(defs) > 1:
            raise ProgramError(f"{what} defines {name!r} {len(defs)} times; give exactly one definition")
        new = defs[0]
        before, after = _param_names(old, stars=True), _param_names(new, stars=True)
        if before != after:
            raise ProgramError(f"{what} changes the parameters from ({', '.join(before)}) to ({', '.join(after)}); "
                               "keep the same names in the same order")

        bindings = self._bindings()
        known_imports = {ref.bound: ref for ref in self.imports()}
        new_imports: list[ImportRef] = []
        helpers: list[cst.BaseStatement] = []
        in_place: dict[str, cst.BaseStatement] = {}
        for stmt in parsed.body:
            if stmt is new or _is_docstring_line(stmt) or _is_main_guard(stmt):
                continue
            if _is_import_line(stmt):
                for small in stmt.body:
                    for ref in _import_refs(small):
                        self._merge_import(ref, what, bindings, known_imports, new_imports)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                helper = stmt.name.value
                kind = bindings.get(helper)
                if placeholder_index(helper) is not None:
                    raise ProgramError(f"{what} also defines placeholder-style function {helper}; "
                                       "give helpers other names and realise placeholders separately")
                if kind in ("function", "class"):
                    in_place[helper] = stmt
                elif kind is not None:
                    raise ProgramError(f"{what} defines {helper!r}, which is already a module-level {kind}"
                                       + (f" ({known_imports[helper]}); use the import" if kind == "import" else ""))
                else:
                    helpers.append(stmt)
                    bindings[helper] = "function"
            elif _is_constant_line(stmt):
                for target in _assigned_names(stmt):
                    if target in bindings:
                        raise ProgramError(f"{what} assigns {target!r}, which is already a module-level "
                                           f"{bindings[target]}")
                    bindings[target] = "constant"
                helpers.append(stmt)
            else:
                text = _one_line(parsed.code_for_node(stmt))[:60]
                raise ProgramError(f"{what} has an unsupported top-level statement {text!r}; give only the "
                                   "function, helper functions, constants and imports")

        body: list[cst.BaseStatement] = []
        for position, stmt in enumerate(self._module.body):
            if position == index:
                placed = [*helpers, new]
                for k, piece in enumerate(placed):
                    lead = list(old.leading_lines) if k == 0 else _blank_lines()
                    if piece is not new:
                        lead += _comment_lines(piece.leading_lines)
                    body.append(_trim_footer(piece).with_changes(leading_lines=lead))
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value in in_place:
                body.append(_trim_footer(in_place[stmt.name.value]).with_changes(leading_lines=stmt.leading_lines))
            else:
                body.append(stmt)
        if new_imports:
            at = self._import_position(body, limit=index)
            body[at:at] = _import_statements(new_imports)
        return self._rebuilt(self._module.with_changes(body=body), f"program after replacing {name}")

    def with_functions(self, mapping: Mapping[str, str]) -> Program:
        """Apply :meth:`with_function` for every ``name → new_source`` in order."""
        program = self
        for name, new_source in mapping.items():
            program = program.with_function(name, new_source)
        return program

    def _merge_import(self, ref: ImportRef, what: str, bindings: dict[str, str],
                      known: dict[str, ImportRef], pending: list[ImportRef]) -> None:
        if ref.module == "__future__":
            return
        if ref.name == "*":
            raise ProgramError(f"{what} uses a star import from {ref.module}; import names explicitly")
        if ref.module.startswith("."):
            raise ProgramError(f"{what} uses a relative import ({ref}); use an absolute module name")
        existing = known.get(ref.bound)
        if existing is not None and (existing.module, existing.name) == (ref.module, ref.name):
            return
        if ref.bound in bindings:
            detail = f" ({existing})" if existing is not None else ""
            raise ProgramError(f"{what} imports {ref}, but {ref.bound!r} is already a module-level "
                               f"{bindings[ref.bound]}{detail}")
        bindings[ref.bound] = "import"
        known[ref.bound] = ref
        pending.append(ref)

    @staticmethod
    def _import_position(body: Sequence[cst.BaseStatement], limit: int) -> int:
        """Index just after the last module-level import before ``limit`` (after the docstring if none)."""
        at = 1 if body and _is_docstring_line(body[0]) else 0
        for position, stmt in enumerate(body[:limit]):
            if _is_import_line(stmt):
                at = position + 1
        return at

    # -- analysis

    def _analyse(self) -> _Analysis:
        if self._analysis is None:
            wrapper = MetadataWrapper(self._module, unsafe_skip_copy=True)
            scopes = wrapper.resolve(ScopeProvider)
            positions = wrapper.resolve(PositionProvider)
            function_of: dict[int, str] = {}
            for stmt in self._module.body:
                if isinstance(stmt, cst.FunctionDef):
                    for node in _walk(stmt):
                        function_of[id(node)] = stmt.name.value
            self._analysis = _Analysis(scopes, positions, scopes[self._module], function_of)
        return self._analysis

    def undefined_names(self) -> dict[str, int]:
        """Names read somewhere but bound nowhere (not builtins, imports, globals or locals) → first line."""
        analysis = self._analyse()
        seen: set[int] = set()
        missing: dict[str, int] = {}
        for scope in analysis.scopes.values():
            if scope is None or id(scope) in seen:
                continue
            seen.add(id(scope))
            for access in scope.accesses:
                if access.referents or not isinstance(access.node, cst.Name):
                    continue
                line = analysis.positions[access.node].start.line
                name = access.node.value
                missing[name] = min(line, missing.get(name, line))
        return dict(sorted(missing.items(), key=lambda item: item[1]))

    def check_complete(self, entry: str) -> None:
        """Raise :class:`ProgramError` unless the program is ready to run.

        Ready means: every placeholder realised, ``entry`` defined at module level,
        the source compiles and no name is read without being bound anywhere.
        All problems found are listed in one line.
        """
        problems = []
        pending = [p.name for p in self.unrealised()]
        if pending:
            problems.append(f"placeholder(s) {', '.join(pending)} not realised")
        if entry not in self.functions():
            problems.append(f"entry function {entry!r} is missing")
        try:
            _check_compiles(self._source, "program")
        except ProgramError as exc:
            problems.append(str(exc))
        else:
            problems += [f"name {name!r} is not defined (line {line})" for name, line in self.undefined_names().items()]
        if problems:
            raise ProgramError("program is not complete: " + "; ".join(problems))

    def call_graph(self) -> nx.DiGraph:
        """Module-level functions and the calls between them.

        Edge ``f → g`` when ``g`` is referenced (called, or passed as a callback)
        anywhere in ``f``, nested functions included; the edge's ``position`` is the
        ``(line, column)`` of the first such reference.
        """
        analysis = self._analyse()
        graph = nx.DiGraph()
        names = self.functions()
        graph.add_nodes_from(names)
        for callee in names:
            for assignment in analysis.global_scope.assignments[callee]:
                for access in assignment.references:
                    caller = analysis.function_of.get(id(access.node))
                    if caller is None:
                        continue
                    start = analysis.positions[access.node].start
                    position = (start.line, start.column)
                    if not graph.has_edge(caller, callee) or position < graph.edges[caller, callee]["position"]:
                        graph.add_edge(caller, callee, position=position)
        return graph

    def fill_order(self, entry: str) -> list[int]:
        """Placeholder indices in the order to realise them.

        A placeholder comes after every placeholder it calls (directly or through
        helpers); otherwise placeholders go in the order a walk from ``entry`` first
        reaches them (callees visited in source order), then unreachable ones by
        index. Mutually calling placeholders form one group, ordered by index.
        """
        graph = self.call_graph()
        if entry not in graph:
            raise ProgramError(f"the program has no module-level function {entry!r}")
        index_of = {p.name: p.index for p in self.placeholders()}
        rank: dict[str, int] = {}
        visited = {entry}
        stack: list[Iterator[str]] = [iter(self._callees(graph, entry))]
        while stack:
            callee = next(stack[-1], None)
            if callee is None:
                stack.pop()
                continue
            if callee in visited:
                continue
            visited.add(callee)
            if callee in index_of:
                rank[callee] = len(rank)
            stack.append(iter(self._callees(graph, callee)))

        def key(name: str) -> tuple[int, int]:
            return (0, rank[name]) if name in rank else (1, index_of[name])

        depends = nx.DiGraph()
        depends.add_nodes_from(index_of)
        for caller in index_of:
            for callee in nx.descendants(graph, caller):
                if callee in index_of and callee != caller:
                    depends.add_edge(callee, caller)
        condensed = nx.condensation(depends)
        members = {c: sorted(condensed.nodes[c]["members"], key=index_of.__getitem__) for c in condensed}
        order = nx.lexicographical_topological_sort(condensed, key=lambda c: min(key(m) for m in members[c]))
        return [index_of[name] for c in order for name in members[c]]

    @staticmethod
    def _callees(graph: nx.DiGraph, name: str) -> list[str]:
        return sorted(graph.successors(name), key=lambda callee: graph.edges[name, callee]["position"])

    # -- inlining

    def inline_imports(self, prefixes: Sequence[str] = (HEUBASE_PREFIX,),
                       resolver: Resolver | None = None) -> Program:
        """A standalone copy: library imports replaced by the code they import.

        Every ``from <module> import name [as alias]`` whose module starts with one
        of ``prefixes`` is removed, and the imported definition is copied in
        (renamed to ``alias`` when aliased), together with everything it needs from
        its own module, transitively: helper functions, classes, constants and the
        definitions that module imports from other prefixed modules. Other imports
        those modules use (``torch``, ``typing``…) are added to this module's
        imports. Copied names that would clash with names of this module, or with
        each other, get a ``_<module>`` suffix. Copied code goes just before the
        first module-level function (or the first statement using it), each
        definition marked ``# inlined from <module>``; if a source module has
        ``from __future__ import annotations`` so does the result.

        Function-level ``from <prefixed module> import name`` lines of this module
        are removed too (the name then resolves to the copied module-level
        definition); the same inside library code is an error.
        ``resolver(module_name) -> source`` defaults to reading the module's file
        via :func:`importlib.util.find_spec`.
        """
        return _Inliner(self, tuple(prefixes), resolver or _default_resolver).run()


def _is_main_guard(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.If) or not isinstance(stmt.test, cst.Comparison):
        return False
    parts = [stmt.test.left, *(c.comparator for c in stmt.test.comparisons)]
    names = {p.value for p in parts if isinstance(p, cst.Name)}
    strings = {p.evaluated_value for p in parts if isinstance(p, cst.SimpleString)}
    return names == {"__name__"} and strings == {"__main__"}


def _assigned_names(stmt: cst.CSTNode) -> list[str]:
    names = []
    for small in _small(stmt):
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
        names += [n.value for t in targets for n in _walk(t) if isinstance(n, cst.Name)]
    return names


def _is_constant_line(stmt: cst.CSTNode) -> bool:
    smalls = _small(stmt)
    return bool(smalls) and all(
        (isinstance(s, cst.Assign) and all(isinstance(t.target, (cst.Name, cst.Tuple)) for t in s.targets))
        or (isinstance(s, cst.AnnAssign) and isinstance(s.target, cst.Name) and s.value is not None)
        for s in smalls)


def _import_statements(refs: Iterable[ImportRef]) -> list[cst.BaseStatement]:
    """Import lines for ``refs``; names from one module share one ``from`` line."""
    lines: list[str] = []
    grouped: dict[str, list[str]] = {}
    for ref in refs:
        if ref.name is None:
            lines.append(str(ref))
        else:
            if ref.module not in grouped:
                grouped[ref.module] = []
                lines.append(ref.module)
            grouped[ref.module].append(ref.name + (f" as {ref.asname}" if ref.asname else ""))
    text = [f"from {line} import {', '.join(grouped[line])}" if line in grouped else line for line in lines]
    return [cst.parse_statement(line + "\n") for line in text]


# ----------------------------------------------------------------------------- inlining machinery


class _Library:
    """A library module parsed for inlining: who binds each global name and what each statement reads."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.package = name.rpartition(".")[0] or None
        self.module = _parse_module(source, f"module {name}")
        self.body = self.module.body
        self.short = name.rsplit(".", 1)[-1]
        scopes = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(ScopeProvider)
        owner: dict[int, int] = {}
        nodes: list[list[cst.CSTNode]] = []
        for index, stmt in enumerate(self.body):
            nodes.append(_walk(stmt))
            owner.update((id(node), index) for node in nodes[-1])
        self.binders: dict[str, list[int]] = {}
        self.binds: list[list[str]] = [[] for _ in self.body]
        self.names: dict[int, str] = {}   # Name node id (read or assigned) -> global name
        self.defs: dict[int, str] = {}    # FunctionDef / ClassDef node id -> global name
        for assignment in scopes[self.module].assignments:
            if not isinstance(assignment, Assignment) or id(assignment.node) not in owner:
                continue
            index = owner[id(assignment.node)]
            if index not in self.binders.setdefault(assignment.name, []):
                self.binders[assignment.name].append(index)
                self.binds[index].append(assignment.name)
            if isinstance(assignment.node, cst.Name):
                self.names[id(assignment.node)] = assignment.name
            elif isinstance(assignment.node, (cst.FunctionDef, cst.ClassDef)):
                self.defs[id(assignment.node)] = assignment.name
            for access in assignment.references:
                if isinstance(access.node, cst.Name):
                    self.names[id(access.node)] = assignment.name
        for binders in self.binders.values():
            binders.sort()
        self.reads: list[list[str]] = []
        self.stmt_names: list[dict[int, str]] = []
        self.stmt_defs: list[dict[int, str]] = []
        for stmt_nodes in nodes:
            names = {id(n): self.names[id(n)] for n in stmt_nodes if id(n) in self.names}
            self.stmt_names.append(names)
            self.stmt_defs.append({id(n): self.defs[id(n)] for n in stmt_nodes if id(n) in self.defs})
            self.reads.append(list(dict.fromkeys(names.values())))
        self.future = any(ref.module == "__future__" and ref.name == "annotations"
                          for stmt in self.body for s in _small(stmt) if isinstance(s, cst.ImportFrom)
                          for ref in _import_refs(s))

    def import_binding(self, name: str) -> ImportRef | None:
        """The import that binds ``name``, or None when a definition binds it."""
        binders = self.binders.get(name, [])
        imports = [i for i in binders if _is_import_line(self.body[i])]
        if not imports:
            return None
        if len(binders) > 1:
            raise ProgramError(f"cannot inline {name!r} from {self.name}: it is bound more than once")
        for small in self.body[imports[0]].body:
            for ref in _import_refs(small, self.package):
                if ref.bound == name or (ref.name is None and ref.asname is None and ref.module == name):
                    return ref
        raise ProgramError(f"cannot inline {name!r} from {self.name}: unsupported import form")


@functools.lru_cache(maxsize=64)
def _library(name: str, source: str) -> _Library:
    """Parsed library module, shared between inlinings (a _Library is never modified)."""
    return _Library(name, source)


LibKey = tuple[str, str]


class _Inliner:
    """State of one :meth:`Program.inline_imports` call."""

    def __init__(self, target: Program, prefixes: tuple[str, ...], resolver: Resolver) -> None:
        self.target, self.prefixes, self.resolver = target, prefixes, resolver
        self.libs: dict[str, _Library] = {}
        self.canonical: dict[LibKey, tuple] = {}
        self.out: dict[LibKey, str] = {}                     # defining (module, name) -> output name
        self.ext: dict[tuple[str, str | None], str] = {}     # external (module, name) -> output name
        self.new_imports: list[ImportRef] = []
        self.copied: dict[tuple[str, int], int] = {}         # (module, statement index) -> discovery order
        self.edges: set[tuple[tuple[str, int], tuple[str, int]]] = set()
        self.reserved: dict[str, LibKey] = {}                # target's names for what it imported
        self.preferred: dict[LibKey, str] = {}
        self.taken: set[str] = set()

    def lib(self, module: str) -> _Library:
        if module not in self.libs:
            self.libs[module] = _library(module, self.resolver(module))
        return self.libs[module]

    def resolve(self, module: str, name: str, seen: frozenset = frozenset()) -> tuple:
        """``("lib", module, name)`` of the defining module, or ``("ext", ImportRef)`` for a non-prefixed import."""
        key = (module, name)
        if key in self.canonical:
            return self.canonical[key]
        if key in seen:
            raise ProgramError(f"cannot inline {name!r}: import cycle through {module}")
        lib = self.lib(module)
        if name not in lib.binders:
            raise ProgramError(f"cannot inline {name!r}: module {module} does not define it")
        ref = lib.import_binding(name)
        if ref is None:
            result: tuple = ("lib", module, name)
        elif ref.name is None or not _matches(ref.module, self.prefixes):
            if ref.name is None and _matches(ref.module, self.prefixes):
                raise ProgramError(f"cannot inline 'import {ref.module}' in {module}; use 'from ... import ...'")
            result = ("ext", ref)
        else:
            result = self.resolve(ref.module, ref.name, seen | {key})
        self.canonical[key] = result
        return result

    def claim(self, preferred: str, owner: LibKey | None, short: str) -> str:
        """A free module-level name for ``owner``: ``preferred`` if possible, else ``preferred_<short>[_k]``."""
        holder = self.reserved.get(preferred)
        if (holder is None and preferred not in self.taken) or (owner is not None and holder == owner):
            self.taken.add(preferred)
            return preferred
        base = f"{preferred}_{short}"
        candidate, k = base, 2
        while candidate in self.taken or candidate in self.reserved:
            candidate, k = f"{base}_{k}", k + 1
        self.taken.add(candidate)
        return candidate

    def external(self, ref: ImportRef) -> str:
        """Output name of a non-inlined import, adding the import to the result when it is new."""
        key = (ref.module, ref.name)
        if key not in self.ext:
            natural = ref.name or ref.module.split(".")[0]
            if ref.name is None and ref.asname is None and "." in ref.module:
                # `import a.b` binds `a` and cannot be renamed
                if natural in self.taken and self.ext.get((natural, None)) != natural:
                    raise ProgramError(f"cannot inline: '{ref}' would clash with the module-level name {natural!r}")
                self.taken.add(natural)
                name = natural
            else:
                name = self.claim(ref.asname or natural, None, natural)
            self.new_imports.append(ImportRef(ref.module, ref.name, None if name == natural else name))
            self.ext[key] = name
        return self.ext[key]

    def require(self, found: tuple) -> str:
        """Output name of a resolved entity, copying its definition in if needed."""
        if found[0] == "ext":
            return self.external(found[1])
        _, module, name = found
        key = (module, name)
        if key not in self.out:
            lib = self.lib(module)
            self.out[key] = self.claim(self.preferred.get(key, name), key, lib.short)
            for index in lib.binders[name]:
                self.copy(lib, index)
        return self.out[key]

    def copy(self, lib: _Library, index: int) -> None:
        skey = (lib.name, index)
        if skey in self.copied:
            return
        stmt = lib.body[index]
        if not (isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) or _is_constant_line(stmt)):
            names = ", ".join(lib.binds[index])
            raise ProgramError(f"cannot inline {names} from {lib.name}: defined by an unsupported "
                               f"{type(stmt).__name__} statement")
        self.copied[skey] = len(self.copied)
        for name in lib.binds[index]:
            key = (lib.name, name)
            if key not in self.out:
                self.out[key] = self.claim(self.preferred.get(key, name), key, lib.short)
        for name in lib.reads[index]:
            found = self.resolve(lib.name, name)
            self.require(found)
            if found[0] == "lib":
                for dep in self.lib(found[1]).binders[found[2]]:
                    if (found[1], dep) != skey:
                        self.edges.add(((found[1], dep), skey))

    def output_name(self, lib: _Library, name: str) -> str:
        found = self.resolve(lib.name, name)
        return self.ext[(found[1].module, found[1].name)] if found[0] == "ext" else self.out[(found[1], found[2])]

    def render(self, skey: tuple[str, int]) -> cst.BaseStatement:
        lib = self.libs[skey[0]]
        stmt = lib.body[skey[1]]
        names = {node_id: self.output_name(lib, name) for node_id, name in lib.stmt_names[skey[1]].items()}
        defs = {node_id: self.out[(lib.name, name)] for node_id, name in lib.stmt_defs[skey[1]].items()}
        renamed = stmt.visit(_Renamer(names, defs))
        if lib.module.default_indent != self.target.module.default_indent:
            renamed = renamed.visit(_PinIndent(lib.module.default_indent))
        provenance = cst.EmptyLine(comment=cst.Comment(f"# inlined from {lib.name}"))
        return renamed.with_changes(leading_lines=[*_blank_lines(), provenance, *_comment_lines(stmt.leading_lines)])

    def run(self) -> Program:
        target = self.target
        body = list(target.module.body)
        removed: list[ImportRef] = []
        kept: list[tuple[int, cst.BaseStatement]] = []
        carried: list[cst.EmptyLine] = []
        for position, stmt in enumerate(body):
            if _is_import_line(stmt):
                keep = []
                for small in stmt.body:
                    refs = _import_refs(small)
                    if any(_matches(ref.module, self.prefixes) for ref in refs):
                        for ref in refs:
                            if ref.name is None or ref.name == "*":
                                raise ProgramError(f"cannot inline '{ref}'; use 'from {ref.module} import <name>'")
                        removed += refs
                    else:
                        keep.append(small)
                if not keep:
                    carried += _comment_lines(stmt.leading_lines)
                    continue
                if len(keep) != len(stmt.body):
                    stmt = _with_smalls(stmt, keep)
            if carried:
                stmt = stmt.with_changes(leading_lines=[*carried, *stmt.leading_lines])
                carried = []
            kept.append((position, stmt))
        nested = self._prefixed_imports(s for s in body if not _is_import_line(s))
        removed += nested
        if not removed:
            return target

        analysis = target._analyse()
        removed_bound = {ref.bound for ref in removed[:len(removed) - len(nested)]}
        self.taken = {a.name for a in analysis.global_scope.assignments if isinstance(a, Assignment)} - removed_bound
        self.taken |= set(dir(builtins))  # never shadow a builtin the program may use
        for ref in target.imports():
            if not _matches(ref.module, self.prefixes):
                self.ext.setdefault((ref.module, ref.name), ref.bound)
        position_of = {id(node): position for position, stmt in enumerate(body) for node in _walk(stmt)}
        first_user = len(body)
        targets: list[tuple[ImportRef, tuple]] = []
        aliases: list[tuple[str, tuple]] = []
        bound_to: dict[str, tuple] = {}
        for ref in nested:
            if ref.bound in self.taken:
                raise ProgramError(f"cannot inline the function-level import '{ref}': {ref.bound!r} is also a "
                                   "module-level name")
        for ref in removed:
            found = self.resolve(ref.module, ref.name)
            if bound_to.setdefault(ref.bound, found) != found:
                raise ProgramError(f"cannot inline: {ref.bound!r} is imported from two different places")
            for assignment in analysis.global_scope.assignments[ref.bound]:
                for access in assignment.references:
                    first_user = min(first_user, position_of.get(id(access.node), first_user))
            if found[0] == "ext" or any(found == other for _, other in targets):
                if found[0] == "ext":
                    self.external(found[1])
                self.taken.add(ref.bound)
                aliases.append((ref.bound, found))
                continue
            targets.append((ref, found))
            self.reserved[ref.bound] = (found[1], found[2])
            self.preferred[(found[1], found[2])] = ref.bound
        for ref, found in targets:
            self.require(found)

        order = self._statement_order()
        inlined = [self.render(skey) for skey in order]
        for bound, found in aliases:
            value = self.require(found)
            if value != bound:
                line = cst.parse_statement(f"{bound} = {value}\n")
                inlined.append(line.with_changes(leading_lines=[cst.EmptyLine()]))

        # place the copied code before the first function / first user of an inlined name
        drop = _DropImports(self.prefixes)
        new_body = [stmt if _is_import_line(stmt) else stmt.visit(drop) for _, stmt in kept]
        at = next((k for k, (position, stmt) in enumerate(kept)
                   if position >= first_user or isinstance(stmt, (cst.FunctionDef, cst.ClassDef))), len(kept))
        if inlined:
            if at < len(new_body):
                anchor = new_body[at]
                lead = list(anchor.leading_lines)
                last_marker = max((k for k, line in enumerate(lead) if _is_marker(line)), default=-1)
                head, rest = lead[:last_marker + 1], lead[last_marker + 1:]
                new_body[at] = anchor.with_changes(leading_lines=rest or _blank_lines())
                inlined[0] = inlined[0].with_changes(leading_lines=[*head, *inlined[0].leading_lines])
            new_body[at:at] = inlined
        if self.new_imports:
            where = Program._import_position(new_body, limit=at)
            new_body[where:where] = _import_statements(self.new_imports)
        has_future = any(r.module == "__future__" and r.name == "annotations" for r in target.imports())
        if any(lib.future for lib in self.libs.values()) and not has_future:
            where = 1 if new_body and _is_docstring_line(new_body[0]) else 0
            new_body.insert(where, cst.parse_statement("from __future__ import annotations\n"))
        left = self._prefixed_imports(new_body)
        if left:
            raise ProgramError(f"cannot inline '{left[0]}': function-level imports inside library code are not "
                               "supported")
        return target._rebuilt(target.module.with_changes(body=new_body), "inlined program")

    def _prefixed_imports(self, statements: Iterable[cst.BaseStatement]) -> list[ImportRef]:
        """``from``-imports of prefixed modules anywhere inside ``statements``."""
        found: list[ImportRef] = []
        for stmt in statements:
            for node in _walk(stmt):
                if isinstance(node, (cst.Import, cst.ImportFrom)):
                    refs = _import_refs(node)
                    if any(_matches(ref.module, self.prefixes) for ref in refs):
                        for ref in refs:
                            if ref.name is None or ref.name == "*":
                                raise ProgramError(f"cannot inline '{ref}'; use 'from {ref.module} import <name>'")
                        found += refs
        return found

    def _statement_order(self) -> list[tuple[str, int]]:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.copied)
        graph.add_edges_from(self.edges)
        condensed = nx.condensation(graph)
        members = {c: sorted(condensed.nodes[c]["members"], key=self.copied.__getitem__) for c in condensed}
        order = nx.lexicographical_topological_sort(condensed, key=lambda c: self.copied[members[c][0]])
        return [skey for c in order for skey in members[c]]
