"""Extract-then-compare grading with a hard timeout. (Placeholder: replaced by the grader work.)"""

from __future__ import annotations

from collections.abc import Sequence

from skyeval.grading.equivalence import is_equivalent
from skyeval.grading.extract import extract_answer
from skyeval.types import Grade


def grade(response: str, gold: str, *, timeout: float = 5.0) -> Grade:
    """Grade one response against a gold answer. Never raises."""
    extracted = extract_answer(response)
    if extracted is None:
        return Grade(False, None, "no_answer")
    ok = is_equivalent(extracted, str(gold))
    return Grade(ok, extracted, "equal" if ok else "not_equal")


def grade_many(
    responses: Sequence[str], golds: Sequence[str], *, timeout: float = 5.0, workers: int | None = None
) -> list[Grade]:
    """Grade many (response, gold) pairs; same order as the input."""
    return [grade(r, g, timeout=timeout) for r, g in zip(responses, golds, strict=True)]
