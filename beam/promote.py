"""`beam promote`: turn a run's best adaptive-memory functions into importable HeuBase modules.

Each promoted function becomes ``heubase/<problem>/evolved/<name>.py`` whose
module docstring carries its provenance (run, memory score, fitness of the
program it came from, that program's parents), so a person can trace and
re-measure it. Promoted modules are ordinary HeuBase: ``beam heubase list``
shows them and later runs (composer or model) can use them.
"""
from __future__ import annotations

import ast
from pathlib import Path

from beam.store import RunStore

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class PromoteError(ValueError):
    """The run cannot be promoted (no memory, unreadable database, bad destination)."""


def provenance(run_dir: Path, row: dict, store: RunStore) -> str:
    """Module docstring text saying where a memory function came from."""
    program = store.get_program(row["program_id"]) if row.get("program_id") else None
    evaluation = store.evaluation(row["program_id"], "validation") if program else None
    lines = [f"{row['name']}: evolved by BEAM, promoted from run {run_dir.resolve().name}.", "",
             f"Run folder: {run_dir.resolve()}",
             f"Memory score S(f): {row.get('score', 0.0):.4f}; uses: {row.get('usage', 0)}",
             f"Source program: {row.get('program_id')} "
             f"(validation fitness {evaluation['fitness'] if evaluation else 'n/a'}; "
             f"role {program['role'] if program else 'n/a'}; parents {program['parents'] if program else []})"]
    if row.get("description"):
        lines += ["", row["description"].strip()]
    return "\n".join(lines)


def promote(run_dir: Path, dest: Path | None = None, top: int = 3) -> list[Path]:
    """Write the ``top`` memory entries of the run as modules under ``dest``; returns the files written."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.db").is_file():
        raise PromoteError(f"{run_dir}: no run database (run.db) here")
    with RunStore(run_dir) as store:
        options = store.get_run("options") or {}
        problem = options.get("problem")
        rows = store.load_memory()
        if not rows:
            raise PromoteError(f"{run_dir}: the adaptive memory of this run is empty; nothing to promote")
        target = Path(dest) if dest is not None else PROJECT_ROOT / "heubase" / str(problem) / "evolved"
        target.mkdir(parents=True, exist_ok=True)
        init = target / "__init__.py"
        if not init.exists():
            init.write_text('"""Components evolved by BEAM and promoted with `beam promote` (see each module)."""\n')
        written = []
        for row in rows[:top]:
            source = row["source"]
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                raise PromoteError(f"memory entry {row['name']} does not parse: {exc}") from None
            if ast.get_docstring(tree) is not None:
                source = source.split('"""', 2)[-1].lstrip("\n") if source.lstrip().startswith('"""') else source
            doc = provenance(run_dir, row, store).replace('"""', "'''")
            path = target / f"{row['name']}.py"
            path.write_text(f'"""{doc}\n"""\n{source}', encoding="utf-8")
            written.append(path)
            store.log_event("promote", {"name": row["name"], "path": str(path.resolve()),
                                        "program_id": row.get("program_id"), "score": row.get("score")})
        return written
