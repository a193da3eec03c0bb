"""In-process cost of the grader's fast path (``extract_answer`` + ``fast_equivalent``) on common and hostile answers.

Run by hand (numbers go to docs/grading.md, "Performance")::

    .venv/bin/python benchmarks/bench_fast_path.py [--repeat N]

For each common pair it prints the median cost of ``fast_equivalent(pred, gold)`` in microseconds; for each hostile
answer, the median milliseconds of ``fast_equivalent(answer, "1")``, ``canonical(unwrap(answer))`` and
``extract_answer(answer)``. To compare with an older checkout, run it with ``PYTHONPATH=<old checkout>``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from skyeval.grading.equivalence import fast_equivalent, unwrap
from skyeval.grading.extract import extract_answer
from skyeval.grading.normalize import canonical

COMMON = [
    ("42", "42"),
    ("\\frac{3}{4}", "0.75"),
    ("3/4", "0.75"),
    ("\\dfrac{3}{4}", "\\frac34"),
    ("(1, 2)", "(1,2)"),
]
HOSTILE = {
    "500 nested braces": "{" * 500 + "1" + "}" * 500,
    "499 nested braces (999 chars)": "{" * 499 + "1" + "}" * 499,
    "5,000 nested braces": "{" * 5_000 + "1" + "}" * 5_000,
    "5,000 nested parentheses": "(" * 5_000 + "1" + ")" * 5_000,
    "500 nested \\frac": "\\frac{" * 500 + "1" + "}{2}" * 500,
    "1,000 digits": "1" * 1_000,
    "1,000-char sum x+x+...": "x+" * 499 + "x",
    "1,000-char list 1,1,...": ",".join(["1"] * 500),
    "1,000 chars: 1, 998 spaces, 1": "1" + " " * 998 + "1",
    "\\boxed{ + 5,000 nested braces": "\\boxed{" + "{" * 5_000 + "1" + "}" * 5_000 + "}",
    "64 unclosed boxes, 192k chars": ("\\boxed{" + "{" * 3_000) * 64,
}


def median_seconds(fn: Callable[[str], object], arg: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per hostile input (median)")
    args = parser.parse_args()
    print("| pair | fast_equivalent |\n|---|---|")
    for pred, gold in COMMON:
        n = 5_000
        fast_equivalent(pred, gold)
        start = time.perf_counter()
        for _ in range(n):
            fast_equivalent(pred, gold)
        print(f"| `{pred}` vs `{gold}` | {(time.perf_counter() - start) / n * 1e6:.1f} µs |")
    print("\n| hostile answer | fast_equivalent | canonical(unwrap) | extract_answer |\n|---|---|---|---|")
    for name, answer in HOSTILE.items():
        stages: list[Callable[[str], object]] = [
            lambda a: fast_equivalent(a, "1"),
            lambda a: canonical(unwrap(a)),
            extract_answer,
        ]
        costs = [median_seconds(stage, answer, args.repeat) for stage in stages]
        print(f"| {name} | " + " | ".join(f"{c * 1e3:.2f} ms" for c in costs) + " |")


if __name__ == "__main__":
    main()
