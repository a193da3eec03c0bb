"""Run ``transformers serve`` on a local model directory for the server tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_model(model_dir: str | Path, *serve_args: str, timeout: float = 180.0) -> Iterator[str]:
    """Run ``transformers serve MODEL_DIR`` on a free loopback port; yield its OpenAI base URL (``…/v1``).

    Needs ``transformers[serving]``. Raises ``RuntimeError`` when the server exits or is not ready within
    ``timeout`` seconds; the server is always stopped on exit.
    """
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    exe = Path(sys.executable).with_name("transformers")
    if not exe.exists():
        raise RuntimeError("the transformers CLI is not installed: pip install 'transformers[serving]'")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
        + list(serve_args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited with status {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve was not ready within {timeout:g} s")
            time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
