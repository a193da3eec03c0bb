"""Benchmark the runner's own overhead and the openai engine's throughput (run by hand; figures go to docs/).

1. Runner overhead per sample: ``skyeval.runner.run`` with the replay engine over 4,000 samples (500 problems x
   8), minus the time the grader itself takes on the same 4,000 (response, gold) pairs.
2. openai engine throughput against ``transformers serve`` on the tiny local model, versus a naive client that
   sends one request at a time, in the same run and against the same server.
3. ``--write-replay FILE`` only writes the 4,000-sample replay file, for whole-process timing of the command
   ``skyeval run --engine replay --task file:FILE --id-field id -E response_field=outs --samples 8 -o NEW_DIR``
   against another commit (paired A/B runs; see docs/running.md).

    .venv/bin/python benchmarks/bench_runner.py [--prompts 48] [--max-tokens 32] [--concurrency 16]
    .venv/bin/python benchmarks/bench_runner.py --write-replay /tmp/replay4000.jsonl

Measured 2026-12-01 on the shared 2-core machine (load average 7-10; table in docs/running.md): the whole-process
command of 3., this branch against commit efec53b in turn, 10 pairs twice: median wall ratio 0.74 and 0.74
(1.27 s vs 1.66 s, 1.95 s vs 2.60 s), median CPU ratio 0.70 (0.49-0.50 s vs 0.71 s), i.e. 0.12 ms vs 0.18 ms of
CPU per sample; in-process (1.), the summary alone 0.07-0.17 s vs 0.61-0.91 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test kit (testkit/)

import argparse
import json
import tempfile
import time
from typing import Any


def write_replay(path: Path, problems: int = 500, samples: int = 8) -> Path:
    """``problems`` x ``samples`` saved completions, each with a different boxed answer (the worst case for
    maj@n clustering), one right per problem at most."""
    with path.open("w") as fh:
        for i in range(problems):
            outs = [f"We compute carefully. The answer is \\boxed{{{(i + j) % 50}}}." for j in range(samples)]
            fh.write(
                json.dumps({"id": i, "question": f"Problem {i}?", "answer": str(i % 50), "outs": outs}) + "\n"
            )
    return path


def bench_overhead(tmp: Path, problems: int = 500, samples: int = 8) -> dict[str, float]:
    from skyeval import grade
    from skyeval.runner import RunOptions, run
    from skyeval.tasks import FieldMap

    path = write_replay(tmp / "replay.jsonl", problems, samples)
    options = RunOptions(
        model="bench",
        task=f"file:{path}",
        engine="replay",
        engine_options={"response_field": "outs"},
        samples=samples,
        output_dir=str(tmp / "runs"),
        fields=FieldMap(question="question", gold="answer", id="id"),
        progress=False,
    )
    start = time.perf_counter()
    result = run(options)
    total = time.perf_counter() - start
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    start = time.perf_counter()
    for row in rows:
        for out in row["outs"]:
            grade(out, row["answer"])
    grading = time.perf_counter() - start
    start = time.perf_counter()
    run(options)  # everything done: resume check only
    resume = time.perf_counter() - start
    from skyeval import results
    from skyeval.summary import summarize_run

    records = results.read_samples(result.run_dir)
    start = time.perf_counter()
    summarize_run(records, results.read_config(result.run_dir))
    summary_s = time.perf_counter() - start
    n = problems * samples
    assert result.summary.samples == n
    return {
        "samples": n,
        "run_total_s": total,
        "grading_s": grading,
        "overhead_ms_per_sample": (total - grading) / n * 1000,
        "summary_s": summary_s,
        "loop_overhead_ms_per_sample": (total - grading - summary_s) / n * 1000,
        "resume_noop_s": resume,
    }


def _post(url: str, body: dict[str, Any], timeout: float) -> Any:
    """POST ``body`` as JSON and return the decoded reply (standard library only)."""
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())


def bench_openai(
    tmp: Path, prompts: int, max_tokens: int, concurrency: int, serve_args: list[str]
) -> dict[str, float]:
    from testkit.serve import serve_model

    from skyeval.engines import get_engine
    from skyeval.testing import build_tiny_model
    from skyeval.types import GenerationRequest, Message, SamplingParams

    model = str(build_tiny_model(tmp / "tiny"))
    with serve_model(model, *serve_args) as base_url:
        url = base_url.removesuffix("/v1")
        sampling = SamplingParams(n=1, temperature=0.7, top_p=0.95, max_tokens=max_tokens, seed=0)
        reqs = [
            GenerationRequest(f"p{i}", (Message("user", f"What is {i} + {i}?"),), (0,))
            for i in range(prompts)
        ]
        bodies = [
            {"model": model, "messages": [{"role": "user", "content": f"What is {i} + {i}?"}], "max_tokens": max_tokens,
             "temperature": 0.7, "top_p": 0.95}
            for i in range(prompts)
        ]  # fmt: skip
        _post(f"{url}/v1/chat/completions", bodies[0], timeout=120)  # warm-up
        start = time.perf_counter()
        tokens = 0
        for body in bodies:  # the naive client: one request at a time
            tokens += _post(f"{url}/v1/chat/completions", body, timeout=600)["usage"]["completion_tokens"]
        naive = time.perf_counter() - start
        engine = get_engine("openai", model=model, base_url=f"{url}/v1", concurrency=concurrency)
        start = time.perf_counter()
        out = list(engine.generate(reqs, sampling))
        fast = time.perf_counter() - start
        fast_tokens = sum(c.completion_tokens or 0 for c in out)
    return {
        "prompts": prompts,
        "max_tokens": max_tokens,
        "concurrency": concurrency,
        "naive_s": naive,
        "naive_samples_per_s": prompts / naive,
        "naive_tokens_per_s": tokens / naive,
        "engine_s": fast,
        "engine_samples_per_s": prompts / fast,
        "engine_tokens_per_s": fast_tokens / fast,
        "speedup": naive / fast,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=48)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--continuous-batching", action="store_true", help="serve with --continuous-batching")
    parser.add_argument("--skip-openai", action="store_true")
    parser.add_argument(
        "--write-replay", type=Path, default=None, help="only write the replay file (A/B runs)"
    )
    args = parser.parse_args()
    if args.write_replay is not None:
        print(write_replay(args.write_replay))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps({"runner_overhead": bench_overhead(Path(tmp))}, indent=2), flush=True)
        if not args.skip_openai:
            serve_args = ["--continuous-batching"] if args.continuous_batching else []
            result = bench_openai(Path(tmp), args.prompts, args.max_tokens, args.concurrency, serve_args)
            print(json.dumps({"openai_vs_naive": result, "serve_args": serve_args}, indent=2))


if __name__ == "__main__":
    main()
