"""`beam report --serve`: serve a run's report on 127.0.0.1, rebuilt whenever the run database changes.

The page polls ``/stamp`` (the database files' size and modification times)
every few seconds and reloads itself when the stamp has moved on.
"""
from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from beam.report import ReportError, write_report
from beam.store import DB_NAME


def change_stamp(run_dir: Path) -> str:
    """A string that changes whenever the run database (or its write-ahead log) is written."""
    parts = []
    for name in (DB_NAME, f"{DB_NAME}-wal"):
        try:
            stat = (run_dir / name).stat()
            parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return "/".join(parts)


class LiveReport:
    """The report page of one run, rebuilt (and rewritten to ``out``) when its stamp changes."""

    def __init__(self, run_dir: Path, out: Path):
        self.run_dir, self.out = Path(run_dir), Path(out)
        self._lock = threading.Lock()
        self._stamp: str | None = None
        self._page = b""

    def page(self) -> bytes:
        """The current page, rebuilt first if the database changed since the last build."""
        with self._lock:
            stamp = change_stamp(self.run_dir)
            if stamp != self._stamp:
                write_report(self.run_dir, self.out, live=stamp)
                self._page, self._stamp = self.out.read_bytes(), stamp
            return self._page


def make_server(live: LiveReport, port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:``port`` (0: any free port) serving ``/`` and ``/stamp``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path in ("/", f"/{live.out.name}"):
                try:
                    self._send(live.page(), "text/html; charset=utf-8")
                except ReportError as exc:
                    self._send(f"beam report: {exc}".encode(), "text/plain; charset=utf-8",
                               HTTPStatus.SERVICE_UNAVAILABLE)
            elif path == "/stamp":
                self._send(change_stamp(live.run_dir).encode(), "text/plain; charset=utf-8")
            else:
                self._send(b"not found", "text/plain; charset=utf-8", HTTPStatus.NOT_FOUND)

        def _send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
