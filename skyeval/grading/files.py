"""Grade a JSONL file of responses: the library behind ``skyeval grade``.

Each row's response field holds one response or a list of responses (several samples of one problem); the
graded copy of the row gains ``correct``, ``extracted`` and ``reason`` (lists when the response is a list).
Golds may be strings, numbers or lists of strings (joined with ``", "``). Input that cannot be graded (no rows,
an empty gold, an empty response list, a response that is not text) is refused, never scored 0. With a compare
field (another grader's verdicts) the summary also holds the ``Comparison`` of the two graders.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.grading.disagreements import Comparison, VerdictPair, compare_verdicts, write_disagreements
from skyeval.grading.grade import DEFAULT_TIMEOUT_S, as_text, grade_many
from skyeval.types import Grade

DEFAULT_POLICY = "default"


@dataclass(frozen=True)
class GradeSummary:
    """Counts over a graded file: rows, responses, correct responses and responses per reason."""

    rows: int
    responses: int
    correct: int
    reasons: Mapping[str, int] = field(default_factory=dict)
    comparison: Comparison | None = None
    """Our verdicts next to the compare field's (``grade_rows(compare_field=...)``), else None."""

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


_TEXT_TYPES = (str, int, float)


def _check_gold(gold: object, where: str, name: str) -> None:
    """Refuse a gold that cannot be graded: null, empty, or not text/numbers."""
    if gold is None:  # a null response is graded (no_answer); a null gold cannot be
        raise SkyevalError(f"{where} has a null '{name}'")
    parts = gold if isinstance(gold, list) else [gold]
    bad = next((p for p in parts if isinstance(p, bool) or not isinstance(p, _TEXT_TYPES)), None)
    if bad is not None:
        raise SkyevalError(
            f"{where}: '{name}' holds a {type(bad).__name__}; expected text, a number or a list of them"
        )
    if not (as_text(gold) or "").strip():
        raise SkyevalError(f"{where} has an empty '{name}'")


def _samples(row: dict[str, Any], where: str, name: str) -> list[object]:
    """The row's responses: one, or its non-empty list; each text, a number or null (graded ``no_answer``)."""
    value = row[name]
    samples = value if isinstance(value, list) else [value]
    if not samples:
        raise SkyevalError(f"{where} has an empty '{name}' list: nothing to grade")
    for k, sample in enumerate(samples):
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, _TEXT_TYPES)):
            label = f"'{name}'[{k}]" if isinstance(value, list) else f"'{name}'"
            raise SkyevalError(
                f"{where}: {label} is a {type(sample).__name__}; expected text (or a list of texts)"
            )
    return samples


def _their_verdicts(
    row: dict[str, Any], where: str, name: str, samples: list[object], listed: bool
) -> list[bool]:
    """The compare field's verdicts for the row's responses: a boolean, or a list of them (one per response)."""
    if name not in row:
        raise SkyevalError(f"{where} has no '{name}' field (fields: {', '.join(row)})")
    value = row[name]
    verdicts = value if listed and isinstance(value, list) else [value]
    if listed and (not isinstance(value, list) or len(value) != len(samples)):
        raise SkyevalError(
            f"{where}: '{name}' must be a list of {len(samples)} true/false verdicts, one per response"
        )
    if not all(isinstance(v, bool) for v in verdicts):
        raise SkyevalError(f"{where}: '{name}' must hold true/false verdicts, got {json.dumps(value)[:80]}")
    return verdicts


def grade_rows(
    rows: list[dict[str, Any]],
    *,
    response_field: str = "response",
    gold_field: str = "answer",
    timeout: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    progress: bool = False,
    source: str = "input",
    policy: str = DEFAULT_POLICY,
    compare_field: str | None = None,
) -> tuple[list[dict[str, Any]], GradeSummary]:
    """Graded copies of ``rows`` and their summary; input that cannot be graded is a SkyevalError naming the
    row. ``policy`` names the equivalence policy; ``compare_field`` holds another grader's verdicts."""
    if not rows:
        raise SkyevalError(f"{source}: no rows to grade")
    responses: list[object] = []
    golds: list[object] = []
    keys: list[tuple[int, int | None]] = []
    theirs: list[bool] = []
    for number, row in enumerate(rows, start=1):
        where = f"{source}: row {number}"
        for name in (response_field, gold_field):
            if name not in row:
                raise SkyevalError(f"{where} has no '{name}' field (fields: {', '.join(row)})")
        _check_gold(row[gold_field], where, gold_field)
        samples = _samples(row, where, response_field)
        listed = isinstance(row[response_field], list)
        if compare_field is not None:
            theirs += _their_verdicts(row, where, compare_field, samples, listed)
        for k, sample in enumerate(samples):
            responses.append(sample)
            golds.append(row[gold_field])
            keys.append((number, k if listed else None))
    # the default policy is grade_many's own default, so it is passed only when another one is named
    options: dict[str, Any] = {} if policy == DEFAULT_POLICY else {"policy": policy}
    grades = grade_many(responses, golds, timeout=timeout, workers=workers, progress=progress, **options)
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
    comparison = None
    if compare_field is not None:
        pairs = [
            VerdictPair(row, sample, as_text(gold) or "", ours, their)
            for (row, sample), gold, ours, their in zip(keys, golds, grades, theirs, strict=True)
        ]
        comparison = compare_verdicts(pairs)
    return graded, GradeSummary(
        len(rows), len(grades), reasons["equal"], {str(k): v for k, v in reasons.items()}, comparison
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
    policy: str = DEFAULT_POLICY,
    compare_field: str | None = None,
    disagreements: str | os.PathLike[str] | None = None,
) -> GradeSummary:
    """Grade every response of a JSONL file, write the graded rows to ``output`` if given, return the summary.

    With ``compare_field``, every disagreement with that field's verdicts is written to ``disagreements``
    (default: ``disagreements_path(output or path)``).
    """
    rows = read_rows(path)
    graded, summary = grade_rows(
        rows,
        response_field=response_field,
        gold_field=gold_field,
        timeout=timeout,
        workers=workers,
        progress=progress,
        source=str(path),
        policy=policy,
        compare_field=compare_field,
    )
    if output is not None:
        write_rows(output, graded)
    if summary.comparison is not None:
        target = disagreements if disagreements is not None else disagreements_path(output or path)
        write_disagreements(target, summary.comparison.disagreements)
    return summary


def disagreements_path(path: str | os.PathLike[str]) -> Path:
    """``out.jsonl`` -> ``out.disagreements.jsonl`` (beside it): where ``grade_jsonl`` writes disagreements."""
    target = Path(path)
    return target.with_name(f"{target.stem}.disagreements.jsonl")
