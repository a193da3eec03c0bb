"""Agreement of skyeval's extract+compare with the labelled grader cases in ../shared, next to math-verify 0.9.0.

Run by hand: ``.venv/bin/python benchmarks/grader_accuracy.py [--failures] [--no-math-verify]``.
Prints one row per file of ``../shared/grader_cases``: rows, skyeval agreement, math-verify agreement.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from skyeval.grading.equivalence import is_equivalent
from skyeval.grading.extract import extract_answer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def skyeval_verdict(pred: str, gold: str) -> bool:
    extracted = extract_answer(pred)
    return extracted is not None and is_equivalent(extracted, gold)


def math_verify_verdict(pred: str, gold: str) -> bool:
    from math_verify import parse, verify

    def wrap(s: str) -> str:
        return s if "$" in s or "\\boxed" in s or "\\(" in s or "\\[" in s else f"${s}$"

    try:
        return bool(verify(parse(wrap(gold)), parse(wrap(pred))))
    except Exception:
        return False


def agreement(rows: list[dict], verdict: Callable[[str, str], bool]) -> tuple[int, list[dict]]:
    wrong = [r for r in rows if verdict(str(r["pred"]), str(r["gold"])) != r["expected"]]
    return len(rows) - len(wrong), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--failures", action="store_true", help="print skyeval's disagreeing rows")
    parser.add_argument("--no-math-verify", action="store_true", help="skip the math-verify column")
    args = parser.parse_args()
    total = [0, 0, 0]
    print("| file | rows | skyeval | math-verify 0.9.0 |\n|---|---|---|---|")
    failures: list[tuple[str, int, dict]] = []
    for path in sorted((SHARED / "grader_cases").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.open()]
        ours, wrong = agreement(rows, skyeval_verdict)
        theirs = 0 if args.no_math_verify else agreement(rows, math_verify_verdict)[0]
        failures += [(path.stem, rows.index(r), r) for r in wrong]
        total[0] += len(rows)
        total[1] += ours
        total[2] += theirs
        print(
            f"| {path.stem} | {len(rows)} | {100 * ours / len(rows):.1f}% | {100 * theirs / len(rows):.1f}% |"
        )
    n = total[0]
    print(f"| **all** | {n} | {100 * total[1] / n:.1f}% | {100 * total[2] / n:.1f}% |")
    if args.failures:
        for stem, i, r in failures:
            got = extract_answer(str(r["pred"]))
            print(f"{stem}[{i}] expected={r['expected']} gold={str(r['gold'])[-80:]!r} extracted={got!r}")


if __name__ == "__main__":
    main()
