"""Load ``problems/<name>/`` into a :class:`Problem`: its configuration, files and evaluator.

Every malformed piece (missing file, bad TOML, wrong types) raises
:class:`ProblemError` with one line naming the file and what is wrong.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REQUIRED_KEYS = {"name": str, "entry": str, "direction": str}
_IMPORT_LOCK = threading.RLock()  # re-entrant: a problem module imports its siblings by path


class ProblemError(ValueError):
    """A problem folder or its problem.toml is malformed."""


def import_by_path(path: Path, key: str) -> ModuleType:
    """Import the file at ``path`` once under the module name ``key`` (problem folders are not packages).

    A different file asked for under a ``key`` already taken (a copy of a problem
    folder used in the same process) gets a name of its own, so it never receives
    the other file's module. Thread-safe: a thread never sees another thread's
    half-executed module.
    """
    with _IMPORT_LOCK:
        return _import_by_path(Path(path), _module_key(Path(path), key))


def _module_key(path: Path, key: str) -> str:
    loaded = sys.modules.get(key)
    where = getattr(loaded, "__file__", None)
    if loaded is None or where is None or Path(where).resolve() == path.resolve():
        return key
    return f"{key}_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]}"


def _import_by_path(path: Path, key: str) -> ModuleType:
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


@dataclass
class Problem:
    """A problem folder: ``problem.toml``, description, skeletons and ``evaluate.py``."""

    root: Path
    config: dict[str, Any]

    @property
    def name(self) -> str:
        return self.config["problem"]["name"]

    @property
    def entry(self) -> str:
        return self.config["problem"]["entry"]

    def file(self, key: str) -> Path:
        """Path of a file named under ``[problem]`` (e.g. ``description``, ``reference``)."""
        value = self.config["problem"].get(key)
        if not isinstance(value, str):
            raise ProblemError(f"{self.root / 'problem.toml'}: [problem] has no '{key}' file entry")
        path = self.root / value
        if not path.exists():
            raise ProblemError(f"{self.root / 'problem.toml'}: [problem].{key} = {value!r} does not exist")
        return path

    def section(self, name: str) -> dict[str, Any]:
        value = self.config.get(name, {})
        if not isinstance(value, dict):
            raise ProblemError(f"{self.root / 'problem.toml'}: [{name}] must be a table")
        return value

    def report(self) -> dict[str, Any] | None:
        """``[report]``: which per-group results (``groups``, a key of the evaluation result) and which
        ``metrics`` tables show; None when the problem has no ``[report]`` (the EPLB layout is assumed)."""
        if "report" not in self.config:
            return None
        cfg = self.section("report")
        groups, metrics = cfg.get("groups", "shapes"), cfg.get("metrics", [])
        if not isinstance(groups, str) or not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
            raise ProblemError(f"{self.root / 'problem.toml'}: [report] needs groups = \"<key>\" and "
                               f"metrics = [\"<name>\", ...]")
        return {"groups": groups, "metrics": metrics}

    def skeletons(self) -> list[Path]:
        """Initial skeleton files, sorted by name."""
        return sorted(self.file("skeletons").glob("*.py"))

    def evaluator(self) -> ModuleType:
        """The problem's ``evaluate.py``, imported by path (problems are not packages)."""
        path = self.root / "evaluate.py"
        if not path.exists():
            raise ProblemError(f"{path}: missing (every problem needs an evaluate.py)")
        module = import_by_path(path, f"beam_problem_{self.name}_evaluate")
        if not callable(getattr(module, "evaluate", None)):
            raise ProblemError(f"{path}: defines no evaluate() function")
        return module

    def evaluate(self, candidate: Path, **options: Any) -> dict[str, Any]:
        """Score a candidate solver file; see the problem's ``evaluate.py`` for the options."""
        return self.evaluator().evaluate(self, Path(candidate), **options)


def load_problem(path: str | Path) -> Problem:
    """Read a problem folder (or its ``problem.toml``) and check the required keys."""
    root = Path(path)
    if root.name == "problem.toml":
        root = root.parent
    toml_path = root / "problem.toml"
    if not root.is_dir():
        raise ProblemError(f"{root}: not a problem folder")
    if not toml_path.is_file():
        raise ProblemError(f"{toml_path}: missing (a problem folder needs a problem.toml)")
    try:
        config = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{toml_path}: not valid TOML: {exc}") from None
    head = config.get("problem")
    if not isinstance(head, dict):
        raise ProblemError(f"{toml_path}: missing the [problem] table")
    for key, kind in REQUIRED_KEYS.items():
        if not isinstance(head.get(key), kind):
            raise ProblemError(f"{toml_path}: [problem].{key} must be a {kind.__name__}")
    if head["direction"] not in ("maximize", "minimize"):
        raise ProblemError(f"{toml_path}: [problem].direction must be 'maximize' or 'minimize'")
    return Problem(root=root.resolve(), config=config)
