"""A small OpenAI-compatible HTTP server for tests: scripted failures, delays, optional ``n`` support.

Every request is logged with its path, body and headers (so a test can see which ``Authorization`` header, if
any, reached the server). ``GET /v1/models`` lists ``models`` (or fails with ``models_status``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """How the server behaves. ``fail(i)`` gives an HTTP status to fail the i-th POST with (or None)."""

    fail: Callable[[int], int | None] = lambda i: None
    delay: float = 0.0
    supports_n: bool = True
    max_choices: int | None = None  # at most this many choices per reply (0: an empty ``choices`` list)
    answer: Callable[[dict[str, Any]], str] = lambda body: "So the answer is \\boxed{42}."
    retry_after: str | None = None  # a ``Retry-After`` header sent with every scripted failure
    models: tuple[str, ...] = ("m",)  # what GET /v1/models lists
    models_status: int | None = None  # fail GET /v1/models with this status instead
    reply: dict[str, Any] | str | None = None  # answer every POST with this body (raw text if a str)
    requests: list[dict[str, Any]] = field(default_factory=list)  # POSTs: path, body, auth, headers, time
    probes: list[dict[str, Any]] = field(default_factory=list)  # GETs: path, auth, headers
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(
            self, status: int, payload: dict[str, Any] | str, headers: dict[str, str] | None = None
        ) -> None:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _log(self, into: list[dict[str, Any]], **extra: Any) -> int:
            entry = {
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "time": time.monotonic(),
                **extra,
            }
            with script.lock:
                into.append(entry)
                return len(into) - 1

        def do_GET(self) -> None:
            self._log(script.probes)
            if not self.path.endswith("/models"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
            elif script.models_status is not None:
                self._send(
                    script.models_status, {"error": {"message": f"scripted failure {script.models_status}"}}
                )
            else:
                self._send(
                    200, {"object": "list", "data": [{"id": m, "object": "model"} for m in script.models]}
                )

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            index = self._log(script.requests, body=body)
            status = script.fail(index)
            if status is not None:
                retry = {"Retry-After": script.retry_after} if script.retry_after is not None else {}
                self._send(status, {"error": {"message": f"scripted failure {status}"}}, retry)
                return
            if script.delay:
                time.sleep(script.delay)
            if script.reply is not None:
                self._send(200, script.reply)
                return
            n = int(body.get("n", 1)) if script.supports_n else 1
            n = n if script.max_choices is None else min(n, script.max_choices)
            text = script.answer(body)
            chat = self.path.endswith("/chat/completions")
            choices = [
                {
                    "index": i,
                    "finish_reason": "stop",
                    **({"message": {"role": "assistant", "content": text}} if chat else {"text": text}),
                }
                for i in range(n)
            ]
            self._send(200, {"choices": choices, "usage": {"prompt_tokens": 5, "completion_tokens": 7 * n}})

    return Handler


class FakeServer:
    """``with FakeServer(script) as url:`` serves on a free loopback port; ``url`` ends in ``/v1``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
