"""One sandbox, several datasets: the loop shared by evaluators that score a candidate dataset by dataset."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from beam.evaluate.sandbox import Sandbox, SandboxLimits

ScoreDataset = Callable[[Sandbox, Any, "float | None"], dict]
"""``score(box, dataset, deadline)`` -> that dataset's result; raises ``SandboxError`` or a problem's own error."""


def evaluation_deadline(limits_table: dict) -> float | None:
    """A ``time.perf_counter()`` deadline from ``evaluation_timeout_s`` of a ``[limits]`` table (None if unset)."""
    timeout = float(limits_table.get("evaluation_timeout_s", 0)) or None
    return time.perf_counter() + timeout if timeout else None


def score_datasets(candidate: Path | str, entry: str, limits: SandboxLimits, limits_table: dict,
                   datasets: Sequence[Any], score: ScoreDataset, hidden: Iterable[Path] = (),
                   warm_up: Callable[[Sandbox], None] | None = None) -> tuple[dict[str, dict], list[str]]:
    """Run ``candidate`` in one sandbox (numpy arrays, ``hidden`` paths invisible) and score every dataset
    in order; ``warm_up(box)`` runs first. Returns ``(results by dataset name, the isolation enforced)``;
    ``SandboxError`` and the errors of ``score`` propagate (the caller turns them into a failed result)."""
    deadline = evaluation_deadline(limits_table)
    per_dataset: dict[str, dict] = {}
    with Sandbox(candidate, entry, limits, hidden_paths=tuple(hidden), arrays="numpy") as box:
        if warm_up is not None:
            warm_up(box)
        for data in datasets:
            per_dataset[data.name] = score(box, data, deadline)
        return per_dataset, box.enforced
