"""Agreement of skyeval's grader with labelled answer pairs, next to math-verify 0.9.0 called with pinned settings.

Run by hand: ``.venv/bin/python benchmarks/grader_accuracy.py [--failures] [--no-math-verify] [--policy NAME]
[--json OUT]``. Prints two tables (figures go to docs/grading.md, "Disagreements with other graders' test
suites"):

1. the six public suites of ``../shared/grader_cases``: rows, skyeval's agreement, math-verify's agreement;
2. the project's per-class case file ``tests/grader_cases/equivalence_classes.jsonl`` (issue 12): rows,
   agreement, false positives (a wrong pair graded equal) and false negatives, per class.

This file is the one place that calls math-verify for the project's measurements (``bench_grader.py`` imports
``math_verify_verdict`` from here), so every figure uses the same pinned settings: ``MATH_VERIFY_SETTINGS``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CLASSES = ROOT / "tests" / "grader_cases" / "equivalence_classes.jsonl"
MATH_VERIFY_VERSION = "0.9.0"
MATH_VERIFY_SETTINGS: dict[str, Any] = {
    # math_verify.parse: its defaults in 0.9.0, written out (LaTeX and plain-expression extraction)
    "parse": {"fallback_mode": "first_match", "extraction_mode": "any_match", "parsing_timeout": 5},
    # math_verify.verify: its defaults in 0.9.0, written out
    "verify": {
        "float_rounding": 6,
        "numeric_precision": 15,
        "strict": True,
        "allow_set_relation_comp": False,
        "timeout_seconds": 5,
    },
}
"""How math-verify is called: both answers wrapped in ``$…$`` unless they carry delimiters or a box."""


def _wrap(s: str) -> str:
    return s if "$" in s or "\\boxed" in s or "\\(" in s or "\\[" in s else f"${s}$"


def math_verify_verdict(pred: str, gold: str) -> bool:
    """math-verify 0.9.0's verdict on a prediction (or whole response) and a gold, with the pinned settings."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    extraction: list[LatexExtractionConfig | ExprExtractionConfig] = [
        LatexExtractionConfig(),
        ExprExtractionConfig(),
    ]
    try:
        gold_parsed = parse(_wrap(gold), extraction, **MATH_VERIFY_SETTINGS["parse"])
        pred_parsed = parse(_wrap(pred), extraction, **MATH_VERIFY_SETTINGS["parse"])
        return bool(verify(gold_parsed, pred_parsed, **MATH_VERIFY_SETTINGS["verify"]))
    except Exception:  # noqa: BLE001 - a crash of the reference grader counts as "not equal", as its own callers do
        return False


def check_math_verify_version() -> str:
    from importlib.metadata import version

    found = version("math-verify")
    if found != MATH_VERIFY_VERSION:
        sys.exit(f"math-verify {found} is installed; these figures are pinned to {MATH_VERIFY_VERSION}")
    return found


def skyeval_verdict(pred: str, gold: str, policy: str = "default") -> bool:
    """skyeval's verdict: the answer extracted from ``pred`` compared with ``gold``."""
    from skyeval.grading.equivalence import is_equivalent
    from skyeval.grading.extract import extract_answer
    from skyeval.grading.numbers import policy as preset

    extracted = extract_answer(pred)
    return extracted is not None and is_equivalent(extracted, gold, preset(policy))


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def shared_suites(
    policy: str, with_math_verify: bool
) -> tuple[list[dict[str, Any]], list[tuple[str, int, dict[str, Any]]]]:
    """One row per file of ../shared/grader_cases, and skyeval's disagreements (file, row index, row)."""
    table, failures = [], []
    for path in sorted((SHARED / "grader_cases").glob("*.jsonl")):
        rows = read_rows(path)
        ours = [skyeval_verdict(str(r["pred"]), str(r["gold"]), policy) == r["expected"] for r in rows]
        theirs = (
            [math_verify_verdict(str(r["pred"]), str(r["gold"])) == r["expected"] for r in rows]
            if with_math_verify
            else []
        )
        failures += [(path.stem, i, r) for i, (r, ok) in enumerate(zip(rows, ours, strict=True)) if not ok]
        table.append({"file": path.stem, "rows": len(rows), "skyeval": sum(ours), "math_verify": sum(theirs)})
    return table, failures


def class_table(policy: str, with_math_verify: bool) -> list[dict[str, Any]]:
    """Per class of equivalence_classes.jsonl: rows, agreement, false positives, false negatives (skyeval's,
    and math-verify's agreement and false positives on the same rows)."""
    rows, counts = read_rows(CLASSES), Counter[tuple[str, str]]()
    for r in rows:
        verdict = skyeval_verdict(r["pred"], r["gold"], policy)
        counts[(r["class"], "ok" if verdict == r["expected"] else ("fp" if verdict else "fn"))] += 1
        counts[(r["class"], "rows")] += 1
        if with_math_verify:
            theirs = math_verify_verdict(r["pred"], r["gold"])
            counts[
                (r["class"], "mv_ok" if theirs == r["expected"] else ("mv_fp" if theirs else "mv_fn"))
            ] += 1
    keys = ("rows", "ok", "fp", "fn", "mv_ok", "mv_fp")
    return [{"class": c, **{k: counts[(c, k)] for k in keys}} for c in sorted({c for c, _ in counts})]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--failures", action="store_true", help="print skyeval's disagreeing rows")
    parser.add_argument("--no-math-verify", action="store_true", help="skip the math-verify column")
    parser.add_argument("--policy", default="default", help="skyeval policy preset (default: default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if not args.no_math_verify:
        print(f"math-verify {check_math_verify_version()}, settings {json.dumps(MATH_VERIFY_SETTINGS)}")

    table, failures = shared_suites(args.policy, not args.no_math_verify)
    print(
        f"\n| file | rows | skyeval ({args.policy}) | math-verify {MATH_VERIFY_VERSION} |\n|---|---|---|---|"
    )
    mv = not args.no_math_verify
    for t in table:
        theirs_t = _pct(t["math_verify"], t["rows"]) if mv else "-"
        print(f"| {t['file']} | {t['rows']} | {_pct(t['skyeval'], t['rows'])} | {theirs_t} |")
    n, ours, theirs = (sum(t[k] for t in table) for k in ("rows", "skyeval", "math_verify"))
    theirs_all = f"{_pct(theirs, n)} ({theirs})" if mv else "-"
    print(f"| **all** | {n} | **{_pct(ours, n)}** ({ours}) | {theirs_all} |")

    classes = class_table(args.policy, not args.no_math_verify)
    print(
        "\n| class | rows | skyeval agreement | false positives | false negatives "
        "| math-verify agreement | its false positives |\n|---|---|---|---|---|---|---|"
    )
    total = {"class": "**all**", **{k: sum(int(c[k]) for c in classes) for k in classes[0] if k != "class"}}
    for c in [*classes, total]:
        theirs = _pct(c["mv_ok"], c["rows"]) if not args.no_math_verify else "-"
        print(
            f"| {c['class']} | {c['rows']} | {_pct(c['ok'], c['rows'])} | {c['fp']} | {c['fn']} "
            f"| {theirs} | {c['mv_fp']} |"
        )

    if args.failures:
        from skyeval.grading.extract import extract_answer

        print()
        for stem, i, r in failures:
            got = extract_answer(str(r["pred"]))
            print(f"{stem}[{i}] expected={r['expected']} gold={str(r['gold'])[-80:]!r} extracted={got!r}")
    if args.json:
        args.json.write_text(json.dumps({"shared": table, "classes": classes}, indent=2) + "\n")


if __name__ == "__main__":
    main()
