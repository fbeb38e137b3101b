"""A scripted, OpenAI-compatible chat-completions server for tests (no network beyond 127.0.0.1).

::

    with FakeOpenAI([Reply("```python\\nx = 1\\n```"), Status(429), Reply("ok")]) as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        ...
        assert len(server.requests) == 2

The script is a list of actions consumed one per request (a plain ``str`` is a
:class:`Reply`), or a callable ``f(request_json) -> action``. When a list runs
out, the server answers 500 so a test sees the extra call. Every request body
that parsed as JSON is appended to :attr:`FakeOpenAI.requests`.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Union


@dataclass
class Reply:
    """A 200 answer whose single choice carries ``text``; ``usage=None`` leaves the usage field out."""

    text: str
    usage: dict[str, int] | None = field(default_factory=lambda: {"prompt_tokens": 10, "completion_tokens": 5})
    delay: float = 0.0
    finish_reason: str = "stop"


@dataclass
class Status:
    """An error status (429, 500, 400, ...) with an OpenAI-style error body."""

    code: int
    retry_after: float | None = None
    message: str = "scripted error"
    delay: float = 0.0


@dataclass
class Malformed:
    """A 200 answer whose body is ``body`` (by default not JSON at all)."""

    body: str = '{"id": "broken", "choices": [ {"message": '
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass
class Close:
    """Drop the connection without answering (after ``delay`` seconds)."""

    delay: float = 0.0


Action = Union[Reply, Status, Malformed, Close, str]
Script = Union[Iterable[Action], Callable[[dict[str, Any]], Action]]


def completion_body(text: str, model: str, usage: dict[str, int] | None, finish_reason: str = "stop") -> dict:
    """A chat.completion object as the OpenAI API returns it."""
    body: dict[str, Any] = {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": prompt + completion}
    return body


class FakeOpenAI:
    """The server: a context manager running a ThreadingHTTPServer on 127.0.0.1 in a daemon thread."""

    def __init__(self, script: Script = ()) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._queue: deque[Action] | None = None
        self._func: Callable[[dict[str, Any]], Action] | None = None
        self.script(script)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- control

    def script(self, script: Script) -> None:
        """Replace the script (list of actions or callable)."""
        with self._lock:
            if callable(script):
                self._func, self._queue = script, None
            else:
                self._func, self._queue = None, deque(script)

    def push(self, *actions: Action) -> None:
        """Append actions to a list script."""
        with self._lock:
            if self._queue is None:
                raise TypeError("push() needs a list script, not a callable")
            self._queue.extend(actions)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    def start(self) -> FakeOpenAI:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (delayed handlers are woken up)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- handler side

    def _next_action(self, request: dict[str, Any]) -> Action:
        with self._lock:
            self.requests.append(request)
            if self._func is not None:
                func = self._func
            elif self._queue:
                return self._queue.popleft()
            else:
                return Status(500, message="fake server: script exhausted")
        return func(request)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    server_owner: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _send(self, code: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) before the answer came
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        owner = self.server_owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        owner.paths.append(self.path)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}", "type": "not_found"}}).encode())
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, b'{"error": {"message": "request body is not JSON", "type": "invalid_request_error"}}')
            return
        action = owner._next_action(request)
        if isinstance(action, str):
            action = Reply(action)
        owner._sleep(getattr(action, "delay", 0.0))
        if isinstance(action, Reply):
            body = completion_body(action.text, str(request.get("model", "fake")), action.usage,
                                   action.finish_reason)
            self._send(200, json.dumps(body).encode())
        elif isinstance(action, Status):
            headers = {} if action.retry_after is None else {"Retry-After": f"{action.retry_after:g}"}
            error = {"error": {"message": action.message, "type": "server_error" if action.code >= 500
                               else "invalid_request_error", "code": str(action.code)}}
            self._send(action.code, json.dumps(error).encode(), headers=headers)
        elif isinstance(action, Malformed):
            self._send(200, action.body.encode(), content_type=action.content_type)
        elif isinstance(action, Close):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            raise TypeError(f"unknown fake-server action {action!r}")
