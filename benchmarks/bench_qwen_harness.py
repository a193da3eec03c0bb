"""Re-grade the 31 published Qwen2.5-Math-harness output files of ../shared/generations/qwen_harness.

Usage (by hand; the table goes to docs/grading.md, "Re-grading published Qwen2.5-Math-harness outputs")::

    .venv/bin/python benchmarks/bench_qwen_harness.py [--policy default] [--no-math-verify]
        [--disagreements DIR] [--json OUT]

For every file of ``MANIFEST.tsv`` it grades each response (``code[i]``) against the raw gold (MATH500, AIME24,
AMC23: ``answer``; Minerva: the last ``\\boxed{}`` of ``solution``; OlympiadBench: ``final_answer`` of
``data/olympiadbench.jsonl`` joined on ``idx``, items joined with ", ") with ``skyeval.grade_many`` and with
math-verify 0.9.0 (``math_verify_verdict`` of benchmarks/grader_accuracy.py: the same pinned settings), and
prints one Markdown row per file: the published ``acc``, the harness's verdicts re-counted (``score[]``), ours,
math-verify's, and the number of responses on which we and the harness disagree (correct only for us / only for
the harness). The harness files record no finish reason, so every response is graded with ``finished=None``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.grading.disagreements import Comparison, VerdictPair, compare_verdicts, write_disagreements
from skyeval.grading.extract import last_boxed
from skyeval.grading.grade import grade_many

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HARNESS = SHARED / "generations" / "qwen_harness"


@dataclass(frozen=True)
class Item:
    """One response of a harness file with its raw gold and the harness's verdict."""

    row: int
    sample: int
    response: str
    gold: str
    theirs: bool


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def raw_gold(task: str, row: dict[str, Any], olympiad: list[dict[str, Any]]) -> str:
    """The benchmark's own gold for a harness row (``../shared/README.md``), not the harness's mangled ``gt``."""
    if task in ("math500", "aime24", "amc23"):
        return str(row["answer"])
    if task == "minerva_math":
        return last_boxed(row["solution"]) or ""
    if task == "olympiadbench":
        return ", ".join(olympiad[row["idx"]]["final_answer"])
    raise ValueError(f"unknown task {task!r}")


def load(file: str, task: str, olympiad: list[dict[str, Any]]) -> list[Item]:
    items = []
    for number, row in enumerate(_jsonl(HARNESS / file), start=1):
        gold = raw_gold(task, row, olympiad)
        for k, (response, score) in enumerate(zip(row["code"], row["score"], strict=True)):
            items.append(Item(number, k, response, gold, bool(score)))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default="default", help="skyeval equivalence policy preset")
    parser.add_argument("--no-math-verify", action="store_true", help="skip the math-verify column")
    parser.add_argument("--disagreements", type=Path, help="write each file's disagreements into this folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from grader_accuracy import math_verify_verdict

    # math-verify logs every parse timeout with the whole response
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    olympiad = _jsonl(SHARED / "data" / "olympiadbench.jsonl")
    manifest = list(csv.DictReader((HARNESS / "MANIFEST.tsv").open(), delimiter="\t"))
    options: dict[str, Any] = {} if args.policy == "default" else {"policy": args.policy}
    if args.disagreements is not None:
        args.disagreements.mkdir(parents=True, exist_ok=True)

    print(f"policy {args.policy}\n")
    print(
        "| file | n | published | harness | skyeval | math-verify 0.9.0 | disagreements (only us / only harness) |"
    )
    print("|---|---|---|---|---|---|---|")
    results: list[dict[str, Any]] = []
    totals = {"n": 0, "harness": 0, "ours": 0, "mv": 0, "dis": 0, "only_ours": 0, "only_theirs": 0}
    ours_s = mv_s = 0.0
    for entry in manifest:
        items = load(entry["file"], entry["task"], olympiad)
        start = time.perf_counter()
        grades = grade_many([i.response for i in items], [i.gold for i in items], **options)
        ours_s += time.perf_counter() - start
        comparison: Comparison = compare_verdicts(
            [VerdictPair(i.row, i.sample, i.gold, g, i.theirs) for i, g in zip(items, grades, strict=True)]
        )
        mv = 0
        if not args.no_math_verify:
            start = time.perf_counter()
            mv = sum(math_verify_verdict(i.response, i.gold) for i in items)
            mv_s += time.perf_counter() - start
        n = len(items)
        name = entry["file"].removesuffix(".jsonl")
        mv_cell = "–" if args.no_math_verify else f"{100 * mv / n:.1f}"
        print(
            f"| {name} | {n} | {entry['metrics_acc']} | {100 * comparison.theirs_accuracy:.1f} | "
            f"{100 * comparison.ours_accuracy:.1f} | {mv_cell} | {len(comparison.disagreements)} "
            f"({comparison.only_ours} / {comparison.only_theirs}) |",
            flush=True,
        )
        if args.disagreements is not None:
            write_disagreements(
                args.disagreements / f"{name.replace('/', '__')}.jsonl", comparison.disagreements
            )
        results.append(
            {
                "file": entry["file"],
                "n": n,
                "published": float(entry["metrics_acc"]),
                "harness": comparison.theirs_correct,
                "ours": comparison.ours_correct,
                "math_verify": None if args.no_math_verify else mv,
                "disagreements": len(comparison.disagreements),
                "only_ours": comparison.only_ours,
                "only_harness": comparison.only_theirs,
            }
        )
        for key, value in (
            ("n", n),
            ("harness", comparison.theirs_correct),
            ("ours", comparison.ours_correct),
            ("mv", mv),
            ("dis", len(comparison.disagreements)),
            ("only_ours", comparison.only_ours),
            ("only_theirs", comparison.only_theirs),
        ):
            totals[key] += value
    n = totals["n"]
    mv_cell = "–" if args.no_math_verify else f"{100 * totals['mv'] / n:.1f}"
    print(
        f"| **all (responses)** | {n} | | {100 * totals['harness'] / n:.1f} | {100 * totals['ours'] / n:.1f} | "
        f"{mv_cell} | {totals['dis']} ({totals['only_ours']} / {totals['only_theirs']}) |"
    )
    print(
        f"\nskyeval grade_many: {ours_s:.1f} s for {n} responses ({n / ours_s:.0f}/s, worker start-up included)"
    )
    if not args.no_math_verify:
        print(f"math-verify 0.9.0: {mv_s:.1f} s ({n / mv_s:.0f}/s)")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "policy": args.policy,
                    "files": results,
                    "totals": totals,
                    "skyeval_s": ours_s,
                    "math_verify_s": mv_s,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
