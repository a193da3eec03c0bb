"""Measured acceptance of the grader (issue 2) on the read-only ``../shared`` material.

1. ``grader_cases/*.jsonl``: >= 97% agreement overall and, per file, at least math-verify 0.9.0's agreement.
2. Every benchmark gold, boxed inside a sentence, grades equal to itself; an integer gold shifted by one never.
3. The 800 labelled responses of ``generations/qwen25math_eval_rm_maj_example_math_cot_100.jsonl``: >= 99%
   agreement once the source's known label errors (documented in docs/grading.md) are corrected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyeval.grading.equivalence import is_equivalent
from skyeval.grading.extract import extract_answer

# math-verify 0.9.0's measured agreement per file (issue 2); ours must be at least this.
MATH_VERIFY_AGREEMENT = {
    "math_verify": 96.3,
    "mario_eval": 65.0,
    "nemo_skills": 73.3,
    "prm800k_family_tunix": 70.6,
    "hendrycks_math": 81.2,
    "simple_evals_equality": 87.5,
}
# Source labels that are wrong (docs/grading.md, "Disagreements"): (idx, response index) -> true label.
GENERATION_LABEL_FIXES = {**{(3, i): True for i in range(8)}, (72, 7): True}


def _grade(pred: str, gold: str) -> bool:
    extracted = extract_answer(pred)
    return extracted is not None and is_equivalent(extracted, gold)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_grader_cases_agreement(shared_dir: Path) -> None:
    table, total, agreed = [], 0, 0
    below = []
    for path in sorted((shared_dir / "grader_cases").glob("*.jsonl")):
        rows = _jsonl(path)
        ok = sum(_grade(str(r["pred"]), str(r["gold"])) == r["expected"] for r in rows)
        pct = 100 * ok / len(rows)
        table.append(
            f"{path.stem:<24} {len(rows):>4} {pct:6.1f}%  (math-verify {MATH_VERIFY_AGREEMENT[path.stem]}%)"
        )
        total += len(rows)
        agreed += ok
        if pct < MATH_VERIFY_AGREEMENT[path.stem]:
            below.append(path.stem)
    overall = 100 * agreed / total
    print("\n" + "\n".join(table) + f"\n{'all':<24} {total:>4} {overall:6.1f}%")
    assert not below, below
    assert overall >= 97.0


def _benchmark_golds(shared_dir: Path) -> list[tuple[str, str]]:
    golds = []
    for name in ("aime24", "amc23", "math500"):
        golds += [(name, str(r["answer"])) for r in _jsonl(shared_dir / "data" / f"{name}.jsonl")]
    golds += [
        ("olympiadbench", ", ".join(r["final_answer"]))
        for r in _jsonl(shared_dir / "data" / "olympiadbench.jsonl")
    ]
    return golds


def test_every_benchmark_gold_equals_itself_and_not_its_neighbours(shared_dir: Path) -> None:
    golds = _benchmark_golds(shared_dir)
    assert len(golds) == 1245
    wrong = []
    for source, gold in golds:
        if not _grade(f"So the answer is \\boxed{{{gold}}}.", gold):
            wrong.append((source, gold, "self"))
        try:
            value = float(gold)
        except ValueError:
            continue
        if value.is_integer():
            for shifted in (int(value) - 1, int(value) + 1):
                if _grade(f"So the answer is \\boxed{{{shifted}}}.", gold):
                    wrong.append((source, gold, str(shifted)))
    assert not wrong, wrong[:20]


def test_qwen25math_generations_agree_with_labels(shared_dir: Path) -> None:
    path = shared_dir / "generations" / "qwen25math_eval_rm_maj_example_math_cot_100.jsonl"
    rows = _jsonl(path)
    agreed, total, disagreements = 0, 0, []
    for row in rows:
        for i, (response, label) in enumerate(zip(row["code"], row["score"], strict=True)):
            label = GENERATION_LABEL_FIXES.get((row["idx"], i), label)
            verdict = _grade(response, str(row["gt"]))
            total += 1
            agreed += verdict == label
            if verdict != label:
                disagreements.append((row["idx"], i, row["gt"], extract_answer(response)))
    assert total == 800
    print(f"\nagreement {agreed}/{total}; disagreements: {disagreements}")
    assert agreed / total >= 0.99, disagreements


@pytest.mark.parametrize("idx", [3])
def test_known_source_error_is_really_correct(shared_dir: Path, idx: int) -> None:
    path = shared_dir / "generations" / "qwen25math_eval_rm_maj_example_math_cot_100.jsonl"
    row = next(r for r in _jsonl(path) if r["idx"] == idx)
    assert row["answer"] == "\\text{4:30 p.m.}"
    assert all(_grade(response, row["answer"]) for response in row["code"])
