"""`beam report`: one self-contained HTML page about a run (plots, lineage, code, memory, usage).

``data`` extracts plain data from the run database, ``figures`` draws it with
plotly, ``render`` fills the jinja2 template, ``serve`` serves it with live refresh.
"""
from __future__ import annotations

from pathlib import Path

from beam.report.data import ReportError, load_run

REPORT_NAME = "report.html"

__all__ = ["REPORT_NAME", "ReportError", "write_report"]


def write_report(run_dir: str | Path, out: str | Path | None = None, live: str | None = None) -> Path:
    """Read the run in ``run_dir`` and write its report to ``out`` (default ``run_dir/report.html``)."""
    from beam.report.render import render

    run = load_run(run_dir)
    target = Path(out) if out is not None else Path(run_dir) / REPORT_NAME
    page = render(run, live=live)
    try:
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise ReportError(f"{target}: cannot write the report: {exc.strerror or exc}") from None
    return target
