"""A small OpenAI-compatible HTTP server for tests: scripted failures, delays, optional ``n`` support."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """How the server behaves. ``fail(i)`` gives an HTTP status to fail the i-th request with (or None)."""

    fail: Callable[[int], int | None] = lambda i: None
    delay: float = 0.0
    supports_n: bool = True
    max_choices: int | None = None  # at most this many choices per reply (0: an empty ``choices`` list)
    answer: Callable[[dict[str, Any]], str] = lambda body: "So the answer is \\boxed{42}."
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            import time

            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with script.lock:
                index = len(script.requests)
                script.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
            status = script.fail(index)
            if status is not None:
                self._send(status, {"error": {"message": f"scripted failure {status}"}})
                return
            if script.delay:
                time.sleep(script.delay)
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
