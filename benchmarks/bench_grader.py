"""Grader speed on one core: skyeval.grade vs math-verify on the same 800 real responses, plus hostile inputs.

Usage (by hand; numbers go to docs/grading.md, section "Performance")::

    .venv/bin/python benchmarks/bench_grader.py [--data PATH] [--cpu N] [--profile] [--json OUT]

The process and its grading workers are pinned to one CPU. For each of the 800 (response, gold) pairs of
``qwen25math_eval_rm_maj_example_math_cot_100.jsonl`` (``code[i]``, ``gt``) it times ``skyeval.grade`` and
math-verify 0.9.0 (``parse(response)``, ``parse("$gt$")``, ``verify(gold, pred)``) one call at a time, and
reports responses/s, p50/p99 latency, the ratio, agreement with the source's labels, the in-process fast path
on an integer, and the worst case over the hostile inputs of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "generations" / "qwen25math_eval_rm_maj_example_math_cot_100.jsonl"


def hostile_inputs(scratch: Path) -> list[tuple[str, str, str]]:
    """(name, response, gold) of the hostile inputs (the same family as tests/test_grade.py)."""
    return [
        ("10^{10^{10}}", r"\boxed{10^{10^{10}}}", "1"),
        ("2^{2^{2^{100}}}", r"\boxed{2^{2^{2^{100}}}}", "2"),
        ("1 MB nested braces", r"\boxed{" + "{" * 500_000 + "}" * 500_000 + "}", "1"),
        ("100k-digit answer", r"\boxed{" + "1" * 100_000 + "}", "1" * 99_999 + "2"),
        ("100k-char sum", r"\boxed{" + "x+" * 50_000 + "1}", "x+1"),
        ("__import__ payload", rf"\boxed{{__import__('os').system('touch {scratch / 'pwned'}')}}", "0"),
        ("NUL bytes", "\\boxed{1\x002}", "12"),
        ("lone surrogates", "\\boxed{\ud800\udfff}", "\udc80"),
        ("5000 nested \\frac", r"\boxed{\frac{" * 5000 + "1" + "}" * 10000, "1"),
        ("2000 nested \\sqrt", r"\boxed{" + r"\sqrt{" * 2000 + "2" + "}" * 2001, "2"),
    ]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def summarize(name: str, latencies: list[float]) -> dict[str, float]:
    total = sum(latencies)
    q = statistics.quantiles(latencies, n=100)
    row = {
        "per_s": len(latencies) / total,
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
        "max_ms": max(latencies) * 1e3,
    }
    print(
        f"{name:12s} {row['per_s']:9.0f} responses/s   p50 {row['p50_ms']:8.3f} ms   "
        f"p99 {row['p99_ms']:8.3f} ms   max {row['max_ms']:8.1f} ms"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the first allowed)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the skyeval pass")
    parser.add_argument("--hostile-timeout", type=float, default=5.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # workers started from here inherit the single-CPU affinity

    import math_verify

    import skyeval

    rows = [json.loads(line) for line in args.data.open()]
    pairs = [
        (code, row["gt"], bool(score))
        for row in rows
        for code, score in zip(row["code"], row["score"], strict=True)
    ]
    print(f"{len(pairs)} responses, pinned to CPU {cpu}")

    _, startup = timed(lambda: skyeval.grade(r"\boxed{x^2+1}", "1+x^2"))  # starts (and warms) one worker
    print(f"worker start-up (first slow-path call): {startup:.2f} s")

    profiler = cProfile.Profile() if args.profile else None
    sky_lat, sky_grades = [], []
    if profiler:
        profiler.enable()
    for response, gold, _ in pairs:
        graded, dt = timed(lambda r=response, g=gold: skyeval.grade(r, g))
        sky_grades.append(graded)
        sky_lat.append(dt)
    if profiler:
        profiler.disable()

    mv_lat, mv_verdicts = [], []
    for response, gold, _ in pairs:

        def run_mv(r: str = response, g: str = gold) -> bool:
            return bool(math_verify.verify(math_verify.parse(f"${g}$"), math_verify.parse(r)))

        verdict, dt = timed(run_mv)
        mv_verdicts.append(verdict)
        mv_lat.append(dt)

    print()
    figures: dict[str, object] = {"responses": len(pairs), "worker_startup_s": startup}
    figures["skyeval"] = summarize("skyeval", sky_lat)
    figures["math_verify"] = summarize("math-verify", mv_lat)
    ratio = figures["skyeval"]["per_s"] / figures["math_verify"]["per_s"]  # type: ignore[index]
    figures["ratio"] = ratio
    print(f"ratio        {ratio:.1f}x math-verify's throughput")

    labels = [label for _, _, label in pairs]
    reasons = Counter(g.reason for g in sky_grades)
    figures["reasons"] = dict(reasons)
    figures["agree_labels_skyeval"] = sum(
        g.correct == lab for g, lab in zip(sky_grades, labels, strict=True)
    ) / len(pairs)
    figures["agree_labels_math_verify"] = sum(
        v == lab for v, lab in zip(mv_verdicts, labels, strict=True)
    ) / len(pairs)
    print(f"reasons      {dict(reasons)}")
    print(
        f"agreement with the source labels: skyeval {figures['agree_labels_skyeval']:.4f}, "
        f"math-verify {figures['agree_labels_math_verify']:.4f}"
    )

    fast = [timed(lambda: skyeval.grade(r"so the answer is \boxed{42}.", "42"))[1] for _ in range(5000)]
    frac = [timed(lambda: skyeval.grade(r"so \boxed{\frac{3}{4}}.", "0.75"))[1] for _ in range(5000)]
    figures["fast_integer_us"] = statistics.median(fast) * 1e6
    figures["fast_fraction_us"] = statistics.median(frac) * 1e6
    print(
        f"fast path    integer {figures['fast_integer_us']:.1f} us, fraction {figures['fast_fraction_us']:.1f} us (median)"
    )

    scratch = Path(f"/tmp/skyeval-bench-{os.getpid()}")
    scratch.mkdir(exist_ok=True)
    print(f"\nhostile inputs (timeout {args.hostile_timeout:g} s):")
    worst = 0.0
    hostile = {}
    for name, response, gold in hostile_inputs(scratch):
        graded, dt = timed(lambda r=response, g=gold: skyeval.grade(r, g, timeout=args.hostile_timeout))
        worst = max(worst, dt)
        hostile[name] = {"seconds": dt, "reason": graded.reason}  # type: ignore[attr-defined]
        print(f"  {name:22s} {dt:7.3f} s  {graded.reason}")  # type: ignore[attr-defined]
    figures["hostile"] = hostile
    figures["hostile_worst_s"] = worst
    figures["payload_executed"] = (scratch / "pwned").exists()
    print(f"worst case   {worst:.2f} s; payload executed: {figures['payload_executed']}")

    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
