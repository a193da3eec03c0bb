"""Grade a JSONL file of responses: the library behind ``skyeval grade``.

Each row's response field holds one response or a list of responses (several samples of one problem); the
graded copy of the row gains ``correct``, ``extracted`` and ``reason`` (lists when the response is a list).
Golds may be strings, numbers or lists of strings (joined with ``", "``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.grading.grade import DEFAULT_TIMEOUT_S, grade_many
from skyeval.types import Grade


@dataclass(frozen=True)
class GradeSummary:
    """Counts over a graded file: rows, responses, correct responses and responses per reason."""

    rows: int
    responses: int
    correct: int
    reasons: Mapping[str, int] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.responses if self.responses else 0.0

    def describe(self) -> str:
        reasons = ", ".join(f"{name} {count}" for name, count in sorted(self.reasons.items()))
        return (
            f"accuracy {self.accuracy:.4f} ({self.correct}/{self.responses} responses in {self.rows} rows)"
            + (f"; {reasons}" if reasons else "")
        )


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; any unreadable file or line is a SkyevalError."""
    from skyeval.jsonl import read_jsonl

    return list(read_jsonl(Path(path)))


def grade_rows(
    rows: list[dict[str, Any]],
    *,
    response_field: str = "response",
    gold_field: str = "answer",
    timeout: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    progress: bool = False,
    source: str = "input",
) -> tuple[list[dict[str, Any]], GradeSummary]:
    """Graded copies of ``rows`` and their summary; a missing field is a SkyevalError naming the row."""
    responses: list[object] = []
    golds: list[object] = []
    for number, row in enumerate(rows, start=1):
        for name in (response_field, gold_field):
            if name not in row:
                raise SkyevalError(f"{source}: row {number} has no '{name}' field (fields: {', '.join(row)})")
        if row[gold_field] is None:  # a null response is graded (no_answer); a null gold cannot be
            raise SkyevalError(f"{source}: row {number} has a null '{gold_field}'")
        samples = row[response_field]
        for sample in samples if isinstance(samples, list) else [samples]:
            responses.append(sample)
            golds.append(row[gold_field])
    grades = grade_many(responses, golds, timeout=timeout, workers=workers, progress=progress)
    graded: list[dict[str, Any]] = []
    position = 0
    for row in rows:
        samples = row[response_field]
        count = len(samples) if isinstance(samples, list) else 1
        columns = _columns(grades[position : position + count])
        position += count
        graded.append(
            {**row, **(columns if isinstance(samples, list) else {k: v[0] for k, v in columns.items()})}
        )
    reasons = Counter(g.reason for g in grades)
    return graded, GradeSummary(
        len(rows), len(grades), reasons["equal"], {str(k): v for k, v in reasons.items()}
    )


def _columns(grades: list[Grade]) -> dict[str, list[Any]]:
    return {
        "correct": [g.correct for g in grades],
        "extracted": [g.extracted for g in grades],
        "reason": [g.reason for g in grades],
    }


def write_rows(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    """Write JSONL atomically into an existing folder, so the input may be the output; ASCII escapes keep lone
    surrogates of model text intact."""
    from skyeval.jsonl import write_jsonl

    write_jsonl(Path(path), rows, ensure_ascii=True, parents=False)


def grade_jsonl(
    path: str | os.PathLike[str],
    *,
    response_field: str = "response",
    gold_field: str = "answer",
    output: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    progress: bool = False,
) -> GradeSummary:
    """Grade every response of a JSONL file, write the graded rows to ``output`` if given, return the summary."""
    rows = read_rows(path)
    graded, summary = grade_rows(
        rows,
        response_field=response_field,
        gold_field=gold_field,
        timeout=timeout,
        workers=workers,
        progress=progress,
        source=str(path),
    )
    if output is not None:
        write_rows(output, graded)
    return summary
