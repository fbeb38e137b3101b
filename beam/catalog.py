"""Catalogue of callable components (HeuBase, memory modules), read from source with libcst.

A *component* is a public module-level ``def`` of a module in a package folder.
Modules are parsed, never imported: HeuBase may hold evolved code, and memory
modules need not be importable when they are listed.

Each component gets a *role* inferred from its *signature shape* (the name
category and annotation of every required positional parameter, plus the
return annotation) and from the result its docstring declares; no list of
function names is kept anywhere. :func:`fits_placeholder` and :func:`bind`
say whether, and how, a component can realise a skeleton placeholder.

>>> from pathlib import Path
>>> comps = catalog(Path("heubase/eplb"), "heubase.eplb")   # doctest: +SKIP
>>> find(comps, "pack_lpt").role                            # doctest: +SKIP
'packer'
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple, Sequence

import libcst as cst

ROLES = ("solver", "refiner", "packer", "replicator", "placer", "load-transform", "utility")
KINDS = ("positional", "keyword-only", "var-positional", "var-keyword")

_EMPTY = cst.Module(body=[])


class CatalogError(ValueError):
    """A module of the catalogued package cannot be read or parsed."""


@dataclass(frozen=True)
class Param:
    """One parameter: annotation and default as source text, ``kind`` one of :data:`KINDS`."""

    name: str
    annotation: str | None = None
    default: str | None = None
    kind: str = "positional"

    @property
    def required(self) -> bool:
        """True for a positional or keyword-only parameter without a default."""
        return self.default is None and self.kind in ("positional", "keyword-only")

    def __str__(self) -> str:
        star = {"var-positional": "*", "var-keyword": "**"}.get(self.kind, "")
        text = star + self.name + (f": {self.annotation}" if self.annotation else "")
        if self.default is not None:
            text += f" = {self.default}" if self.annotation else f"={self.default}"
        return text


@dataclass(frozen=True)
class Component:
    """A public module-level function found in source.

    ``result`` is the name of the returned quantity as the function's docstring
    (or else its module's docstring) declares it, e.g. ``"pack_of_item"`` for
    "returns ``pack_of_item [B, n]``"; None when nothing is declared.
    """

    module: str
    name: str
    signature: str
    params: tuple[Param, ...]
    returns: str | None
    doc: str
    role: str
    path: Path
    result: str | None = None

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def import_line(self) -> str:
        return f"from {self.module} import {self.name}"


class Shape(NamedTuple):
    """Signature shape: ``(name category, normalised annotation)`` per required positional parameter, and the return."""

    params: tuple[tuple[str, str | None], ...]
    returns: str | None


# ---------------------------------------------------------------- source reading

def _code(node: cst.CSTNode) -> str:
    """Source text of an expression; a multi-line expression is joined onto one line."""
    text = _EMPTY.code_for_node(node).strip()
    return " ".join(text.split()) if "\n" in text else text


def _param(node: cst.Param, kind: str) -> Param:
    annotation = _code(node.annotation.annotation) if node.annotation is not None else None
    default = _code(node.default) if node.default is not None else None
    return Param(node.name.value, annotation, default, kind)


def _parameters(node: cst.Parameters) -> tuple[tuple[Param, ...], str]:
    """The parameters and their text as written in a ``def`` line (``/`` and ``*`` markers included)."""
    params: list[Param] = []
    parts: list[str] = []
    for p in node.posonly_params:
        params.append(_param(p, "positional"))
        parts.append(str(params[-1]))
    if node.posonly_params:
        parts.append("/")
    for p in node.params:
        params.append(_param(p, "positional"))
        parts.append(str(params[-1]))
    if isinstance(node.star_arg, cst.Param):
        params.append(_param(node.star_arg, "var-positional"))
        parts.append(str(params[-1]))
    elif node.kwonly_params:
        parts.append("*")
    for p in node.kwonly_params:
        params.append(_param(p, "keyword-only"))
        parts.append(str(params[-1]))
    if isinstance(node.star_kwarg, cst.Param):
        params.append(_param(node.star_kwarg, "var-keyword"))
        parts.append(str(params[-1]))
    return tuple(params), ", ".join(parts)


def def_line_params(def_line: str) -> tuple[tuple[Param, ...], str | None]:
    """Parameters and return annotation of a ``def name(...) -> R:`` line (e.g. a placeholder's signature)."""
    try:
        node = cst.parse_module(def_line.rstrip() + "\n    pass\n").body[0]
    except cst.ParserSyntaxError as err:
        raise CatalogError(f"not a def line: {def_line!r}: {err.message}") from None
    if not isinstance(node, cst.FunctionDef):
        raise CatalogError(f"not a def line: {def_line!r}")
    params, _ = _parameters(node.params)
    return params, (_code(node.returns.annotation) if node.returns is not None else None)


def _leading_comment(node: cst.FunctionDef) -> str:
    """Comment lines opening the body (a placeholder's ``# Purpose:``), without the ``#``."""
    body = node.body
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return ""
    lines = [line.comment.value.lstrip("#").strip() for line in body.body[0].leading_lines if line.comment]
    return "\n".join(lines)


_RETURN = re.compile(r"\breturns?\b:?", re.IGNORECASE)
_WORD = re.compile(r"\s*(`{1,2})?([A-Za-z_][A-Za-z0-9_]*)(`{1,2})?(\s*\[)?")
_FILLER = {"a", "an", "the", "new", "its", "their", "updated", "improved", "refined"}


def declared_result(text: str) -> str | None:
    """Name of the returned quantity a docstring declares, or None.

    Looks at each "return"/"returns" in turn, skips filler words (a, the, new, …)
    and takes the next word if it looks like code: in backticks, followed by a
    ``[shape]``, or containing ``_`` or a digit ("returns a new ``pack_of_item``",
    "return pack_of_item [B, n]"). A tuple such as ``(phy2log, …)`` declares nothing.

    >>> declared_result("Returns ``logcnt [L, E]`` int64.")
    'logcnt'
    >>> declared_result("return as soon as the deadline passes; return the new pack_of_item [B, n]")
    'pack_of_item'
    """
    for hit in _RETURN.finditer(text):
        pos = hit.end()
        for _ in range(4):
            word = _WORD.match(text, pos)
            if word is None:
                break
            name, ticked, shaped = word.group(2), bool(word.group(1)), bool(word.group(4))
            if not ticked and name.lower() in _FILLER:
                pos = word.end()
                continue
            if ticked or shaped or "_" in name or any(c.isdigit() for c in name):
                return name
            break
    return None


def _module_name(rel: Path, package: str) -> str | None:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not all(p.isidentifier() for p in parts):
        return None
    return ".".join([package, *parts])


def _error_line(source: str, err: cst.ParserSyntaxError) -> int:
    """Line of a syntax error: CPython's parser (compile only, nothing runs) is more precise than libcst's."""
    try:
        ast.parse(source)
    except SyntaxError as exact:
        return exact.lineno or err.editor_line
    return err.editor_line


def read_module(path: Path, module: str) -> list[Component]:
    """Public module-level functions of one source file, in source order (a redefinition replaces the earlier one).

    Only ``def`` statements directly in the module body count (not ones under
    ``if``/``try``); ``async def`` is skipped (a skeleton cannot call it).
    ``doc`` is the cleaned docstring or, when there is none, the comment lines
    opening the body (an evolved function keeps its ``# Purpose:``).
    """
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CatalogError(f"{path}: cannot read: {err}") from None
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as err:
        raise CatalogError(f"{path}:{_error_line(source, err)}: syntax error: {err.message}") from None
    module_result = declared_result(tree.get_docstring(clean=True) or "")
    found: dict[str, Component] = {}
    for stmt in tree.body:
        if not isinstance(stmt, cst.FunctionDef) or stmt.asynchronous is not None:
            continue
        name = stmt.name.value
        if name.startswith("_"):
            continue
        params, text = _parameters(stmt.params)
        returns = _code(stmt.returns.annotation) if stmt.returns is not None else None
        signature = f"{name}({text})" + (f" -> {returns}" if returns else "")
        doc = stmt.get_docstring(clean=True) or _leading_comment(stmt)
        result = declared_result(doc) or module_result
        found.pop(name, None)
        found[name] = Component(module, name, signature, params, returns, doc, "", path, result)
    return [replace(c, role=infer_role(c)) for c in found.values()]


def catalog(package_dir: Path, package: str) -> list[Component]:
    """Every public module-level function of every module under ``package_dir``, recursively.

    ``package`` is the dotted name of ``package_dir`` (``heubase.eplb``); a file
    ``evolved/x.py`` becomes module ``heubase.eplb.evolved.x``. Hidden folders,
    ``__pycache__`` and files whose path is not a valid module name are skipped.
    Sorted by module name, then source order. A file that does not parse raises
    :class:`CatalogError` naming the file and line.
    """
    package_dir = Path(package_dir)
    if not package_dir.is_dir():
        raise CatalogError(f"{package_dir}: not a folder")
    modules: list[tuple[str, Path]] = []
    for path in package_dir.rglob("*.py"):
        rel = path.relative_to(package_dir)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        module = _module_name(rel, package)
        if module is not None:
            modules.append((module, path))
    return [c for module, path in sorted(modules) for c in read_module(path, module)]


# ---------------------------------------------------------------- signature shapes

_SYNONYMS = {"gpu": "pack", "bin": "pack", "rank": "pack", "replica": "slot"}
_TIME = {"deadline", "time_limit", "time_budget", "max_time", "timeout"}


def _noun(word: str) -> str:
    """Singular, canonical noun: ``gpus``/``bins``/``packs`` → ``pack``, ``replicas``/``slots`` → ``slot``."""
    word = word.lower().rsplit("_", 1)[-1]
    if len(word) > 3 and word.endswith("s"):
        word = word[:-1]
    return _SYNONYMS.get(word, word)


def param_category(name: str) -> str:
    """Category of a parameter name; the rules, first match wins:

    * ``weight``: ``w``, ``weight(s)``, ``load(s)`` or a name ending ``_weight(s)``/``_load(s)``;
    * ``count:<noun>``: ``num_<nouns>``, ``n_<nouns>`` or ``<nouns>_per_<x>``
      (``num_packs`` → ``count:pack``; gpus, bins, ranks are packs; replicas are slots);
    * ``assign:<noun>``: ``<noun>_of_<x>`` (``pack_of_item``, ``gpu_of_item`` → ``assign:pack``);
    * ``time``: ``deadline``, ``timeout``, ``max_time``, … or a name ending ``_deadline``;
    * ``any`` otherwise.

    >>> param_category("gpus_per_node"), param_category("item_load"), param_category("rounds")
    ('count:pack', 'weight', 'any')
    """
    n = name.lower()
    if n in ("w", "weight", "weights", "load", "loads") or n.endswith(("_weight", "_weights", "_load", "_loads")):
        return "weight"
    for prefix in ("num_", "n_"):
        if n.startswith(prefix) and len(n) > len(prefix):
            return "count:" + _noun(n[len(prefix):])
    if "_per_" in n:
        return "count:" + _noun(n.split("_per_", 1)[0])
    if "_of_" in n:
        return "assign:" + _noun(n.split("_of_", 1)[0])
    if n in _TIME or n.endswith("_deadline"):
        return "time"
    return "any"


_ALIASES = {"Tuple": "tuple", "List": "list", "Dict": "dict", "Set": "set", "FrozenSet": "frozenset",
            "Type": "type", "Text": "str", "NoneType": "None"}


def _split_top(text: str) -> list[str]:
    """Split a normalised annotation on ``|`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _union(parts: Sequence[str]) -> str:
    return "|".join(sorted({m for p in parts for m in _split_top(p)}))


def _render(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return _ALIASES.get(node.value, node.value)
    if isinstance(node, cst.Attribute):
        return _ALIASES.get(node.attr.value, node.attr.value)
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        return normalise(node.evaluated_value) or ""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return _union([_render(node.left), _render(node.right)])
    if isinstance(node, cst.Subscript):
        base = _render(node.value)
        args = [_render(e.slice.value) if isinstance(e.slice, cst.Index) else "".join(_code(e.slice).split())
                for e in node.slice]
        if base == "Optional":
            return _union([*args, "None"])
        if base == "Union":
            return _union(args)
        return f"{base}[{','.join(args)}]"
    if isinstance(node, (cst.List, cst.Tuple)):
        inner = ",".join(_render(e.value) for e in node.elements)
        return f"[{inner}]" if isinstance(node, cst.List) else f"({inner})"
    return "".join(_code(node).split())


def normalise(annotation: str | None) -> str | None:
    """Canonical annotation text: dotted names cut to their last part, typing aliases lowered,
    ``Optional``/``Union``/``|`` as a sorted ``|`` union, no spaces.

    >>> normalise("Optional[torch.Tensor]"), normalise("Tuple[Tensor, torch.Tensor]")
    ('None|Tensor', 'tuple[Tensor,Tensor]')
    """
    if annotation is None:
        return None
    try:
        return _render(cst.parse_expression(annotation))
    except cst.ParserSyntaxError:
        return "".join(annotation.split())


def signature_shape(params: Sequence[Param] | Sequence[tuple[str, str | None]], returns: str | None) -> Shape:
    """Shape of a signature: ``(param_category(name), normalise(annotation))`` for each required
    positional parameter, in order, and the normalised return annotation.

    ``params`` are :class:`Param` (parameters with defaults, keyword-only and
    starred ones are left out) or ``(name, annotation)`` pairs, all taken as required.
    """
    items: list[tuple[str, str | None]] = []
    for p in params:
        if isinstance(p, Param):
            if p.kind == "positional" and p.default is None:
                items.append((param_category(p.name), normalise(p.annotation)))
        else:
            name, annotation = p
            items.append((param_category(name), normalise(annotation)))
    return Shape(tuple(items), normalise(returns))


_WIDER = {"int": {"float", "complex"}, "float": {"complex"}, "bool": {"int", "float", "complex"}}


def accepts(expected: str | None, given: str | None) -> bool:
    """True when a value annotated ``given`` may go where ``expected`` is annotated (normalised texts).

    A missing annotation on either side accepts anything. Otherwise every
    member of the ``given`` union must be a member of the ``expected`` union,
    ``Any``/``object`` accept everything, and int → float → complex widen (PEP 484).
    """
    if expected is None or given is None:
        return True
    wanted = set(_split_top(expected))
    if wanted & {"Any", "object"}:
        return True
    return all(g in wanted or bool(_WIDER.get(g, set()) & wanted) for g in _split_top(given))


def _agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def compatible(a: Component, b: Component) -> bool:
    """True when ``a`` and ``b`` have the same shape: as many required positional parameters,
    pairwise of equal name category and agreeing annotation, and agreeing returns
    (annotations agree when equal after :func:`normalise` or when either is missing).
    """
    sa, sb = signature_shape(a.params, a.returns), signature_shape(b.params, b.returns)
    return (len(sa.params) == len(sb.params)
            and all(ca == cb and _agree(ta, tb) for (ca, ta), (cb, tb) in zip(sa.params, sb.params))
            and _agree(sa.returns, sb.returns))


def bind(component: Component, placeholder_params: Sequence[tuple[str, str | None]],
         placeholder_returns: str | None, *, skip: bool = False) -> dict[str, str] | None:
    """How a placeholder's body can call ``component``: ``{component param: placeholder param}``, or None.

    The rule:

    1. Returns: the placeholder's return annotation must :func:`accepts` the component's.
    2. Required positional parameters of the component bind, in order, to the
       placeholder's parameters by position: the i-th to the i-th (with
       ``skip=True``, to the next placeholder parameter that fits, placeholder
       parameters in between being left unused). A pair fits when the names have
       the same :func:`param_category` and the component's annotation
       :func:`accepts` the placeholder's.
    3. Every other component parameter binds to the unused placeholder parameter of
       the same name if that pair fits; otherwise it must have a default (a required
       keyword-only parameter with no such match means no fit). Starred parameters stay empty.
    4. Placeholder parameters left unbound are ignored by the call.

    Positional bindings come first in the mapping, in order; the rest are keyword bindings.
    """
    if not accepts(normalise(placeholder_returns), normalise(component.returns)):
        return None
    slots = [(name, param_category(name), normalise(annotation)) for name, annotation in placeholder_params]

    def fits(p: Param, slot: tuple[str, str, str | None]) -> bool:
        return param_category(p.name) == slot[1] and accepts(normalise(p.annotation), slot[2])

    binding: dict[str, str] = {}
    pos = 0
    for p in component.params:
        if p.kind != "positional" or p.default is not None:
            continue
        while pos < len(slots) and not fits(p, slots[pos]):
            if not skip:
                return None
            pos += 1
        if pos == len(slots):
            return None
        binding[p.name] = slots[pos][0]
        pos += 1
    used = set(binding.values())
    for p in component.params:
        if p.name in binding or p.kind in ("var-positional", "var-keyword"):
            continue
        match = next((s for s in slots if s[0] == p.name and s[0] not in used and fits(p, s)), None)
        if match is not None:
            binding[p.name] = match[0]
            used.add(match[0])
        elif p.default is None:
            return None
    return binding


def fits_placeholder(component: Component, placeholder_params: Sequence[tuple[str, str | None]],
                     placeholder_returns: str | None, *, skip: bool = False) -> bool:
    """True when :func:`bind` finds a binding: ``component`` can realise the placeholder
    ``def f(<placeholder_params>) -> <placeholder_returns>`` by a single call.
    """
    return bind(component, placeholder_params, placeholder_returns, skip=skip) is not None


def candidates(components: Sequence[Component], placeholder_params: Sequence[tuple[str, str | None]],
               placeholder_returns: str | None, *, role: str | None = None, skip: bool = False) -> list[Component]:
    """Components that fit the placeholder (and have ``role``, when given), in catalogue order.

    Shape alone cannot tell a refiner from ``pack_loads(weights, pack_of_item,
    num_packs)``: pass ``role`` to keep only real candidates.
    """
    return [c for c in components
            if (role is None or c.role == role) and fits_placeholder(c, placeholder_params, placeholder_returns, skip=skip)]


# ---------------------------------------------------------------- roles

def _is(item: tuple[str, str | None], category: str, annotation: str) -> bool:
    return item[0] == category and _agree(item[1], annotation)


def _tensor_triple(returns: str | None) -> bool:
    return returns == "tuple[Tensor,Tensor,Tensor]"


def _knob(item: tuple[str, str | None], types: set[str]) -> bool:
    """A tuning scalar: a name of category ``any``/``time`` whose annotation (if any) is in ``types``."""
    return item[0] in ("any", "time") and (item[1] is None or set(_split_top(item[1])) <= types)


_SCALARS = {"int", "float", "bool", "None"}


def shape_role(shape: Shape, result: str | None = None) -> str:
    """Role of a signature shape (see :func:`infer_role` for the rules)."""
    req, ret = shape.params, shape.returns
    if not req or not _is(req[0], "weight", "Tensor"):
        return "utility"
    rest = req[1:]
    counts = [item for item in rest if item[0].startswith("count:")]
    if _tensor_triple(ret):
        if rest and len(counts) == len(rest) and all(_agree(t, "int") for _, t in counts):
            return "solver"
        return "utility"
    if not _agree(ret, "Tensor"):
        return "utility"
    declared = param_category(result) if result else None
    assignment = declared is not None and declared.startswith("assign:")
    if (len(rest) >= 2 and _is(rest[0], "assign:pack", "Tensor") and _is(rest[1], "count:pack", "int")
            and all(_knob(i, _SCALARS) for i in rest[2:]) and assignment):
        return "refiner"
    if (rest and _is(rest[0], "count:pack", "int") and all(_knob(i, _SCALARS) for i in rest[1:])
            and (declared is None or assignment)):
        return "packer"
    if rest and _is(rest[0], "count:slot", "int") and all(_knob(i, _SCALARS) for i in rest[1:]):
        return "replicator"
    lead = 0
    while lead < len(rest) and rest[lead][0].startswith("count:") and _agree(rest[lead][1], "int"):
        lead += 1
    if lead >= 2 and all(_knob(i, _SCALARS) for i in rest[lead:]):
        return "placer"
    if all(_knob(i, {"float", "None"}) for i in rest):
        return "load-transform"
    return "utility"


def infer_role(component: Component) -> str:
    """Role of a component from its signature shape and declared result.

    Notation: W = first required parameter of category ``weight`` annotated
    ``Tensor`` (or unannotated); *knobs* = trailing required parameters of
    category ``any``/``time`` with a scalar annotation (int, float, bool) or none;
    only required positional parameters count. First matching rule wins:

    * ``solver``: returns ``tuple[Tensor, Tensor, Tensor]``; W then only ``count:*`` ints
      (the entry contract ``(weight, num_replicas, num_groups, num_nodes, num_gpus)``);
    * the others return a ``Tensor``:
    * ``refiner``: W, ``assign:pack`` Tensor, ``count:pack`` int, knobs; and the declared
      result is an assignment (``pack_of_item``): this is what tells a refiner from a
      measure of a packing such as ``pack_loads(weights, pack_of_item, num_packs)``;
    * ``packer``: W, ``count:pack`` int, knobs; a declared result, if any, is an assignment;
    * ``replicator``: W, ``count:slot`` int, knobs;
    * ``placer``: W, at least two ``count:*`` ints, knobs;
    * ``load-transform``: W then only float knobs;
    * ``utility``: anything else.
    """
    return shape_role(signature_shape(component.params, component.returns), component.result)


# ---------------------------------------------------------------- listing and lookup

def _docstring_block(doc: str, indent: str = "    ") -> str:
    if not doc:
        return f"{indent}..."
    doc = doc.replace('"""', r'\"\"\"')
    if "\n" not in doc:
        return f'{indent}"""{doc}"""'
    lines = [indent + '"""' + doc.splitlines()[0]]
    lines += [(indent + line) if line.strip() else "" for line in doc.splitlines()[1:]]
    lines.append(indent + '"""')
    return "\n".join(lines)


def listing(components: Sequence[Component]) -> str:
    """The HeuBase listing shown in prompts: per component its import line, ``def`` line and docstring."""
    blocks = [f"{c.import_line}\ndef {c.signature}:\n{_docstring_block(c.doc)}" for c in components]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def find(components: Sequence[Component], name: str) -> Component:
    """The component called ``name`` (bare, or qualified ``module.name``); KeyError if absent or ambiguous."""
    hits = [c for c in components if name in (c.name, c.qualname)]
    if not hits:
        raise KeyError(f"no component named {name!r}")
    if len(hits) > 1:
        raise KeyError(f"{name!r} is ambiguous: {', '.join(c.qualname for c in hits)}; qualify it")
    return hits[0]
