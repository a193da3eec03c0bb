"""Differential grading: our verdicts next to another grader's, and the responses on which the two differ.

Pure functions over verdict pairs (``compare_verdicts``, ``find_disagreements``) and one writer
(``write_disagreements``: JSONL, or CSV when the path ends in ``.csv``). ``skyeval grade --compare-field`` uses
them; so do importers of other harnesses' outputs and the re-grading benchmark.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, astuple, dataclass, fields
from pathlib import Path

from skyeval.errors import SkyevalError
from skyeval.types import Grade


@dataclass(frozen=True)
class VerdictPair:
    """Both graders on one response: ``row`` (1-based), ``sample`` (index in the row's response list, None
    for a row with one response), the gold, our ``Grade`` and their boolean verdict."""

    row: int
    sample: int | None
    gold: str
    ours: Grade
    theirs: bool


@dataclass(frozen=True)
class Disagreement:
    """One response the two graders judge differently, with what we extracted and why we decided so."""

    row: int
    sample: int | None
    gold: str
    extracted: str | None
    theirs: bool
    ours: bool
    reason: str


@dataclass(frozen=True)
class Comparison:
    """Both graders' accuracy over the same responses, and every disagreement (in input order)."""

    responses: int
    ours_correct: int
    theirs_correct: int
    disagreements: tuple[Disagreement, ...]

    @property
    def ours_accuracy(self) -> float:
        return self.ours_correct / self.responses if self.responses else 0.0

    @property
    def theirs_accuracy(self) -> float:
        return self.theirs_correct / self.responses if self.responses else 0.0

    @property
    def only_ours(self) -> int:
        """Responses we grade correct and they do not."""
        return sum(d.ours for d in self.disagreements)

    @property
    def only_theirs(self) -> int:
        """Responses they grade correct and we do not."""
        return len(self.disagreements) - self.only_ours

    def describe(self, name: str) -> str:
        """One line: their accuracy and the disagreements, split by direction."""
        return (
            f"{name}: accuracy {self.theirs_accuracy:.4f} ({self.theirs_correct}/{self.responses}); "
            f"disagreements {len(self.disagreements)} ({self.only_ours} correct only for us, "
            f"{self.only_theirs} only for {name})"
        )


def find_disagreements(pairs: Iterable[VerdictPair]) -> list[Disagreement]:
    """The pairs whose two verdicts differ, as ``Disagreement`` rows (input order)."""
    return [
        Disagreement(p.row, p.sample, p.gold, p.ours.extracted, p.theirs, p.ours.correct, p.ours.reason)
        for p in pairs
        if p.ours.correct != p.theirs
    ]


def compare_verdicts(pairs: Sequence[VerdictPair]) -> Comparison:
    """Accuracy of both graders over ``pairs`` and their disagreements."""
    return Comparison(
        responses=len(pairs),
        ours_correct=sum(p.ours.correct for p in pairs),
        theirs_correct=sum(p.theirs for p in pairs),
        disagreements=tuple(find_disagreements(pairs)),
    )


COLUMNS = tuple(f.name for f in fields(Disagreement))
"""The columns of a disagreements file, in order."""


def write_disagreements(path: str | os.PathLike[str], rows: Sequence[Disagreement]) -> None:
    """Write ``rows`` atomically (``skyeval.jsonl.atomic_jsonl``): CSV (a header, then one line per row) when
    ``path`` ends in ``.csv``, else JSONL. An unwritable path is a one-line SkyevalError."""
    from skyeval.jsonl import atomic_jsonl

    target = Path(path)
    try:
        with atomic_jsonl(target) as handle:
            if target.suffix.lower() == ".csv":
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(COLUMNS)
                writer.writerows([_csv_safe(v) for v in astuple(row)] for row in rows)
            else:
                for row in rows:
                    handle.write(json.dumps(asdict(row)) + "\n")  # ASCII escapes: lone surrogates survive
    except OSError as err:
        raise SkyevalError(f"cannot write {path}: {err.strerror}") from None


def _csv_safe(value: object) -> object:
    """Text with lone surrogates (seen in model output) escaped, so the UTF-8 CSV can always be written."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value
