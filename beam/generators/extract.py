"""Take code, hyperparameter ranges and descriptions out of a model's reply.

Replies are untrusted text: nothing here runs them. Code is only parsed
(:func:`ast.parse`, :func:`compile`), dictionaries are read with
:func:`ast.literal_eval`. Anything unusable raises :class:`ExtractionError`
with a one-line message fit to show the model again (the fix loop does)::

    >>> extract_module("Here it is:\\n```python\\ndef f():\\n    return 1\\n```\\nDone.", must_define=["f"])
    'def f():\\n    return 1\\n'
    >>> extract_ranges("```python\\npms_dict = {'A': (1, 8), 'B': (0.1, 0.9)}\\n```")
    {'A': (1, 8), 'B': (0.1, 0.9)}
"""
from __future__ import annotations

import ast
import builtins
import inspect
import keyword
import math
import re
import textwrap
import warnings as _warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

from beam.generators.base import GenerationError

MAX_REPLY_CHARS = 400_000
PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3", "ipython"})
MAX_PROSE_ATTEMPTS = 40        # starting lines tried when an unfenced reply opens with prose
MAX_DICT_ATTEMPTS = 40         # '{' positions tried when looking for a bare dict literal

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_CODE_START = re.compile(
    r"""^(?:import\s|from\s+[\w.]+\s+import\s|def\s|async\s+def\s|class\s|@[\w.]+|\#|"{3}|'{3}"""
    r"""|if\s+__name__|[A-Za-z_][\w.]*\s*(?::[^=\n]+)?=(?!=))""")
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__"}


class ExtractionError(GenerationError):
    """The reply holds no usable answer; the message says why in one line."""


@dataclass(frozen=True)
class Block:
    """One fenced block of a reply: its text (dedented), language tag and whether the fence was closed."""

    text: str
    lang: str
    closed: bool
    line: int          # 1-based line of the reply where the block's text starts


# ----------------------------------------------------------------------------- text and fences

def _checked_text(reply: object) -> str:
    """The reply as clean text (unified newlines, no BOM), or ExtractionError."""
    if isinstance(reply, (bytes, bytearray, memoryview)):
        try:
            reply = bytes(reply).decode("utf-8")
        except UnicodeDecodeError:
            raise ExtractionError("the reply is not valid UTF-8 text") from None
    if not isinstance(reply, str):
        raise ExtractionError(f"the reply is not text (got {type(reply).__name__})")
    if len(reply) > MAX_REPLY_CHARS:
        raise ExtractionError(f"the reply is too long ({len(reply)} characters; the limit is {MAX_REPLY_CHARS})")
    try:
        reply.encode("utf-8")
    except UnicodeEncodeError:
        raise ExtractionError("the reply is not valid UTF-8 text (it holds unpaired surrogates)") from None
    if "\x00" in reply:
        raise ExtractionError("the reply holds NUL characters: it is binary data, not text")
    text = reply.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise ExtractionError("the reply is empty")
    return text


def _lang(info: str) -> str:
    word = info.split()[0] if info.split() else ""
    return word.strip("{}.").lower()


def _closes(line: str, char: str, length: int) -> bool:
    stripped = line.strip()
    return len(stripped) >= length and set(stripped) == {char}


def fenced_blocks(reply: str) -> list[Block]:
    """Every fenced block (```` ``` ```` or ``~~~``, three or more) of ``reply``, in order.

    A block is closed by a line of at least as many fence characters; an unclosed
    block runs to the end of the reply (a truncated answer). A backtick line whose
    info text holds a backtick is inline code, not a fence.
    """
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if match is None or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        fence = match["fence"]
        end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence[0], len(fence))), None)
        body = lines[i + 1:len(lines) if end is None else end]
        text = textwrap.dedent("\n".join(body))   # an indented fence usually indents its code too
        if end is None:   # "return x```" on the last line of a cut-off answer
            text = re.sub(r"[`~]{3,}\s*$", "", text.rstrip())
        blocks.append(Block(text.strip("\n"), _lang(match["info"]), end is not None, i + 2))
        i = len(lines) if end is None else end + 1
    return blocks


# ----------------------------------------------------------------------------- parsing helpers

def _parse_at(code: str) -> tuple[ast.Module | None, str | None, int | None]:
    """``(tree, None, None)`` when ``code`` compiles, else ``(None, one-line reason, error line)``. Nothing is run."""
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            tree = ast.parse(code)
            compile(code, "<reply>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        shown = f": {exc.text.strip()[:100]!r}" if exc.text and exc.text.strip() else ""
        return None, f"syntax error at {where} of the code: {exc.msg}{shown}", exc.lineno
    except (ValueError, TypeError, RecursionError, MemoryError, OverflowError) as exc:
        return None, f"the code cannot be parsed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}", None
    return tree, None, None


def _parse(code: str) -> tuple[ast.Module | None, str | None]:
    """``(tree, None)`` when ``code`` compiles, else ``(None, one-line reason)``."""
    tree, error, _ = _parse_at(code)
    return tree, error


def _bound_at_top(statements: Iterable[ast.stmt]) -> list[str]:
    """Names a module binds at its top level (descending into top-level if/try/with blocks)."""
    names: list[str] = []
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name != "*"]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            inner = list(getattr(node, "body", [])) + list(getattr(node, "orelse", []))
            inner += list(getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                inner += handler.body
            names += _bound_at_top(inner)
    return names


def top_level_names(code: str) -> set[str]:
    """Names bound at the top level of ``code`` (functions, classes, imports, constants); empty if it does not parse."""
    tree, _ = _parse(code)
    return set(_bound_at_top(tree.body)) if tree is not None else set()


def _functions(tree: ast.Module) -> list[str]:
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _has_code(tree: ast.Module) -> bool:
    """False for text that parses but is no program (``Sure``, a lone string or number)."""
    return any(not isinstance(node, ast.Expr) or isinstance(node.value, (ast.Call, ast.Await))
               for node in tree.body)


def _free_names(tree: ast.Module) -> set[str]:
    """Names read but bound nowhere in ``tree`` (and not builtins): what another block may supply."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - _BUILTINS


def _is_main_guard(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__")


def _declarative(statements: Iterable[ast.stmt]) -> bool:
    """True when importing these statements only defines things (no top-level calls beyond constants)."""
    for node in statements:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Assign, ast.AnnAssign, ast.Pass)) or _is_main_guard(node):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Try) and _declarative(node.body) and all(
                _declarative(h.body) for h in node.handlers):
            continue
        return False
    return True


def _missing_message(defined: Sequence[str], missing: Sequence[str]) -> str:
    wanted = ", ".join(missing)
    if not defined:
        return f"the reply's code defines no function (expected {wanted})"
    shown = ", ".join(defined[:8]) + (", ..." if len(defined) > 8 else "")
    return f"the reply defines {shown} but not {wanted}"


# ----------------------------------------------------------------------------- modules

@dataclass
class _Candidate:
    block: Block
    index: int
    tree: ast.Module
    names: set[str]


def _with_support(chosen: _Candidate, others: list[_Candidate]) -> str:
    """``chosen``'s text, preceded/followed (in reply order) by declarative blocks that bind names it needs."""
    need = _free_names(chosen.tree)
    taken = set(chosen.names)
    parts = [chosen]
    changed = True
    while need and changed:
        changed = False
        for cand in others:
            if cand in parts or not cand.names or cand.names & taken or not (cand.names & need):
                continue
            if not _declarative(cand.tree.body):
                continue
            parts.append(cand)
            taken |= cand.names
            need = (need | _free_names(cand.tree)) - taken
            changed = True
    if len(parts) == 1:
        return chosen.block.text
    joined = "\n\n".join(p.block.text for p in sorted(parts, key=lambda c: c.index))
    return joined if _parse(joined)[0] is not None else chosen.block.text


def _union(cands: list[_Candidate], must: Sequence[str]) -> str | None:
    """Blocks that together form the module: disjoint top-level names, joined in reply order."""
    taken: set[str] = set()
    parts = []
    for cand in cands:
        if cand.names & taken:
            continue
        if _declarative(cand.tree.body) or cand.names & set(must):
            parts.append(cand)
            taken |= cand.names
    if len(parts) < 2 or not set(must) <= taken:
        return None
    joined = "\n\n".join(p.block.text for p in parts)
    return joined if _parse(joined)[0] is not None else None


def _from_blocks(blocks: list[Block], must: Sequence[str]) -> str | None:
    """The module held by the fenced blocks, None when no block is Python, else ExtractionError."""
    pythonic = [b for b in blocks if b.lang in PYTHON_TAGS and b.text.strip()]
    others = [b for b in blocks if b.lang not in PYTHON_TAGS and b.text.strip()]
    good: list[_Candidate] = []
    broken: list[tuple[Block, str]] = []
    for index, block in enumerate(pythonic):
        tree, error = _parse(block.text)
        if tree is None:
            broken.append((block, error or "cannot be parsed"))
        elif _has_code(tree):
            good.append(_Candidate(block, index, tree, set(_bound_at_top(tree.body))))
    complete = [c for c in good if set(must) <= c.names]
    if complete:
        chosen = max(complete, key=lambda c: (len(c.block.text), c.index))
        return _with_support(chosen, good)
    if good and must:
        joined = _union(good, must)
        if joined is not None:
            return joined
    # a block in another language (```text, ```json) that happens to be the code
    for block in sorted(others, key=lambda b: -len(b.text)):
        tree, _ = _parse(block.text)
        if tree is not None and _has_code(tree) and set(must) <= set(_bound_at_top(tree.body)):
            return block.text
    if good:
        best = max(good, key=lambda c: (len(set(must) & c.names), len(c.block.text)))
        raise ExtractionError(_missing_message(_functions(best.tree), [m for m in must if m not in best.names]))
    if broken:
        block, error = max(broken, key=lambda item: len(item[0].text))
        cut = "" if block.closed else " (the code block is never closed: the reply seems cut off)"
        raise ExtractionError(f"{error}{cut}")
    if pythonic:
        raise ExtractionError("the reply's code block holds no Python code")
    return None


def _from_prose(text: str, must: Sequence[str]) -> str:
    """The module of a reply without fences: all of it, or what follows its leading prose.

    After a failed parse only starts past the error line are tried, and the
    trailing prose is cut only when the error lies in it, so a long reply costs a
    few parses, not one per line.
    """
    lines = text.split("\n")
    code_lines = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    end = len(lines)   # trailing prose: unindented lines that do not look like code
    while end > 0 and (not lines[end - 1].strip() or (not lines[end - 1][:1].isspace()
                                                     and not _CODE_START.match(lines[end - 1])
                                                     and not lines[end - 1].rstrip().endswith((")", "]", "}")))):
        end -= 1
    start, attempts = 0, 0
    first_error: str | None = None
    while start is not None and attempts < MAX_PROSE_ATTEMPTS:
        attempts += 1
        error_at = start
        for stop in (len(lines), end):
            if stop <= start:
                break
            segment = lines[start:stop]
            code = "\n".join(segment).strip("\n")
            lead = next((k for k, line in enumerate(segment) if line), len(segment))   # blank lines cut off
            tree, error, lineno = _parse_at(code)
            if tree is not None:
                if not _has_code(tree):
                    break
                names = set(_bound_at_top(tree.body))
                missing = [m for m in must if m not in names]
                if missing:
                    raise ExtractionError(_missing_message(_functions(tree), missing))
                return code
            if code_lines and start >= code_lines[0] and first_error is None:
                first_error = error
            error_at = max(error_at, start + lead + (lineno or 1) - 1)
            if stop == end or error_at < end:
                break   # the error is not in the trailing prose: cutting it cannot help
        start = next((i for i in code_lines if i > error_at), None)
    if first_error is not None:
        raise ExtractionError(f"no fenced code block, and the text does not parse as Python: {first_error}")
    raise ExtractionError("the reply holds no Python code (no fenced ```python block and no line that starts code)")


def extract_module(reply: str, must_define: Sequence[str] = ()) -> str:
    """The Python module in ``reply``, ending with one newline.

    Fenced blocks come first: the longest block that parses and defines every
    name of ``must_define`` (with declarative blocks that supply names it uses,
    e.g. imports written in a block of their own), else blocks that together
    define them, else an error. A reply without fences counts as code when it
    parses, after dropping leading prose lines and trailing prose if needed.

    Raises :class:`ExtractionError` for an empty, over-long or non-text reply, a
    syntax error (with its line) or a missing name (``the reply defines f but not func_2``).
    """
    text = _checked_text(reply)
    must = [str(name) for name in dict.fromkeys(must_define)]
    blocks = fenced_blocks(text)
    code = _from_blocks(blocks, must) if blocks else None
    if code is None:
        code = _from_prose(text, must)
    return code.strip("\n") + "\n"


# ----------------------------------------------------------------------------- ranges

def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _balanced_end(text: str, start: int, limit: int = 100_000) -> int | None:
    """Index just past the bracket that closes ``text[start]`` (strings and comments skipped), or None."""
    depth, i, stop = 0, start, min(len(text), start + limit)
    quote: str | None = None
    while i < stop:
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else ch
            i += len(quote)
            continue
        elif ch == "#":
            newline = text.find("\n", i)
            i = stop if newline < 0 else newline
            continue
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _dict_node(text: str, start: int) -> ast.Dict | None:
    end = _balanced_end(text, start)
    if end is None:
        return None
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            node = ast.parse(text[start:end].strip(), mode="eval").body
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError, OverflowError):
        return None
    return node if isinstance(node, ast.Dict) else None


def _find_dict(text: str) -> ast.Dict | None:
    """The ``pms_dict = {...}`` literal in ``text``, else the first bare dict literal."""
    tree, _ = _parse(text)
    if tree is not None:
        bare = None
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "pms_dict" for t in targets):
                    return node.value
                bare = bare or node.value
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Dict):
                bare = bare or node.value
        if bare is not None:
            return bare
    named = re.search(r"\bpms_dict\s*(?::[^=\n]*)?=\s*(?=\{)", text)
    if named is not None:
        found = _dict_node(text, named.end())
        if found is not None:
            return found
    for attempt, match in enumerate(re.finditer(r"\{", text)):
        if attempt >= MAX_DICT_ATTEMPTS:
            break
        found = _dict_node(text, match.start())
        if found is not None and found.keys:
            return found
    return None


def _literal(node: ast.AST) -> object:
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        return ast.literal_eval(node)


def extract_ranges(reply: str, warnings: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """``name -> (low, high)`` from the ``pms_dict = {...}`` (or bare dict literal) of ``reply``.

    Read with :func:`ast.literal_eval`, entry by entry, never executed. Entries
    whose key is not a name or whose value is not two finite numbers are dropped,
    each with a line appended to ``warnings``; reversed bounds are swapped, equal
    ones dropped. No valid entry at all raises :class:`ExtractionError`.
    """
    notes = warnings if warnings is not None else []
    text = _checked_text(reply)
    blocks = fenced_blocks(text)
    sources = [b.text for b in blocks if b.lang in PYTHON_TAGS] + [b.text for b in blocks if b.lang not in PYTHON_TAGS]
    node = None
    for source in [*sources, text]:
        node = _find_dict(source)
        if node is not None:
            break
    if node is None:
        raise ExtractionError("the reply holds no 'pms_dict = {...}' dictionary")
    ranges: dict[str, tuple[float, float]] = {}
    for key_node, value_node in zip(node.keys, node.values):
        if key_node is None:
            notes.append("a '**' expansion in pms_dict was ignored")
            continue
        try:
            key, value = _literal(key_node), _literal(value_node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            shown = ast.unparse(key_node)[:60] if hasattr(ast, "unparse") else "?"
            notes.append(f"entry {shown}: not a literal (only numbers are allowed); dropped")
            continue
        if not isinstance(key, str) or not key.isidentifier():
            notes.append(f"key {key!r}: not a hyperparameter name; dropped")
            continue
        if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_number(v) for v in value):
            notes.append(f"{key}: {value!r} is not a (low, high) pair of finite numbers; dropped")
            continue
        low, high = value
        if low == high:
            notes.append(f"{key}: empty interval ({low}, {high}); dropped")
            continue
        if low > high:
            notes.append(f"{key}: bounds reversed ({low}, {high}); swapped")
            low, high = high, low
        if key in ranges:
            notes.append(f"{key}: given twice; the last one kept")
        ranges[key] = (low, high)
    if not ranges:
        detail = f": {'; '.join(notes[:4])}" if notes else ""
        raise ExtractionError(f"pms_dict has no valid (low, high) entry{detail}")
    return ranges


# ----------------------------------------------------------------------------- descriptions

def extract_description(reply: str) -> tuple[str, str]:
    """``(function name, cleaned docstring)`` from a reply holding ``def name(...):`` and a docstring."""
    text = _checked_text(reply)
    blocks = fenced_blocks(text)
    sources = [b.text for b in blocks if b.lang in PYTHON_TAGS] + [b.text for b in blocks if b.lang not in PYTHON_TAGS]
    named_without_doc = None
    for source in [*sources, text]:
        tree, _ = _parse(source)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True)
                if doc and doc.strip():
                    return node.name, doc.strip()
                named_without_doc = named_without_doc or node.name
    # a def line and docstring that do not parse (e.g. a stray body): read them textually
    match = re.search(r"\bdef\s+([A-Za-z_]\w*)\s*\(", text)
    if match is not None:
        after = text[match.end():]
        doc = re.search(r'("""|\'\'\')(.*?)\1', after, re.S)
        if doc is not None and doc.group(2).strip():
            name = match.group(1)
            if keyword.iskeyword(name):
                raise ExtractionError(f"the function name {name!r} is a Python keyword")
            return name, inspect.cleandoc(doc.group(2)).strip()
        named_without_doc = named_without_doc or match.group(1)
    if named_without_doc is not None:
        raise ExtractionError(f"the reply names the function {named_without_doc} but gives it no docstring")
    raise ExtractionError("the reply holds no 'def name(...):' line with a docstring")
