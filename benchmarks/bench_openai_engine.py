"""Paired A/B of the openai engine: the official-client version against the hand-written httpx one it replaced,
and the time a dead server takes to fail (run by hand; figures go to docs/running.md).

1. Throughput against the loopback fake server (tests/testkit, no model: what is measured is the client side,
   HTTP and the engine's own bookkeeping). Runs alternate old/new, ``--pairs`` times; the median ratio is shown.
2. ``skyeval run`` against a port nobody listens on: seconds until the one-line error (preflight probe).

    .venv/bin/python benchmarks/bench_openai_engine.py [--prompts 200] [--samples 4] [--pairs 5] [--old-ref main]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from testkit.fake_openai_server import FakeServer, Script  # noqa: E402

from skyeval.types import GenerationRequest, Message, SamplingParams  # noqa: E402


def _old_engine_class(ref: str, tmp: Path) -> Any:
    """``OpenAIEngine`` as it was at git ``ref`` (loaded from that revision's file, beside the current package)."""
    source = subprocess.run(
        ["git", "show", f"{ref}:skyeval/engines/openai.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = tmp / "old_openai_engine.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_openai_engine", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module.OpenAIEngine


def _throughput(engine: Any, prompts: int, samples: int) -> float:
    requests = [
        GenerationRequest(f"p{i}", (Message("user", f"q{i}"),), tuple(range(samples))) for i in range(prompts)
    ]
    sampling = SamplingParams(n=samples, temperature=0.7, max_tokens=16, seed=0)
    start = time.perf_counter()
    got = sum(1 for _ in engine.generate(requests, sampling))
    elapsed = time.perf_counter() - start
    assert got == prompts * samples
    return got / elapsed


def bench_throughput(prompts: int, samples: int, pairs: int, ref: str, use_n: bool) -> dict[str, Any]:
    from skyeval.engines.openai import OpenAIEngine

    with tempfile.TemporaryDirectory() as tmp:
        old_class = _old_engine_class(ref, Path(tmp))
        with FakeServer(Script(supports_n=use_n)) as url:
            old = old_class(model="m", base_url=url, concurrency=32)
            new = OpenAIEngine(model="m", base_url=url, concurrency=32)
            _throughput(old, 20, samples), _throughput(new, 20, samples)  # warm-up: imports, connections
            rows = []
            for _ in range(pairs):
                a = _throughput(old, prompts, samples)
                b = _throughput(new, prompts, samples)
                rows.append({"old": round(a, 1), "new": round(b, 1), "new/old": round(b / a, 3)})
    return {
        "prompts": prompts,
        "samples": samples,
        "server_supports_n": use_n,
        "samples_per_s": rows,
        "median new/old": statistics.median(r["new/old"] for r in rows),
    }


def bench_dead_server() -> dict[str, Any]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "amc23.jsonl"
        data.write_text('{"id": 0, "problem": "p?", "answer": 1.0}\n')
        cmd = [str(Path(sys.executable).with_name("skyeval")), "run", "-m", "m", "--task", "amc23"]
        cmd += [
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--data-dir",
            tmp,
            "-o",
            f"{tmp}/runs",
            "--no-progress",
        ]
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        return {
            "seconds": round(elapsed, 2),
            "exit": out.returncode,
            "stderr": out.stderr.strip(),
            "run_dir_created": (Path(tmp) / "runs").exists(),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--old-ref", default="main")
    args = parser.parse_args()
    for use_n in (True, False):
        print(
            json.dumps(
                bench_throughput(args.prompts, args.samples, args.pairs, args.old_ref, use_n), indent=1
            )
        )
    print(json.dumps({"dead_server": bench_dead_server()}, indent=1))


if __name__ == "__main__":
    main()
