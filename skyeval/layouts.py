"""Local task layouts: which fields of a ``<task>.jsonl`` hold the id, question and gold, and how a file's layout
is recognised (``skyeval.tasks`` loads tasks with them).

A task may read several layouts (minerva_math: skyeval's ``question``/``answer`` and the Qwen2.5-Math harness's
``problem``/``solution``/``idx``, gold = the last ``\\boxed{}`` of the solution). A file is read in the first
layout whose fields its first row has; a file in none is a one-line error for that task alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError


@dataclass(frozen=True)
class FieldMap:
    """Which source fields hold the id, question, gold and breakdown metadata (``id=""``: row number)."""

    question: str
    gold: str
    id: str = ""
    context: str = ""  # prepended to the question when present and non-empty
    meta: tuple[str, ...] = ()


GOLD_RULES = ("", "last_boxed")
"""How a layout's gold field becomes the gold: as it is, or the content of its last ``\\boxed{}``."""


@dataclass(frozen=True)
class Layout:
    """One way a task's local file can be laid out: its field map and how the gold field is read."""

    name: str
    fields: FieldMap
    gold_from: str = ""  # one of GOLD_RULES
    description: str = ""

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Whether ``row`` has every field this layout needs."""
        return all(f in row for f in (self.fields.question, self.fields.gold, self.fields.id) if f)

    def describe(self) -> str:
        f = self.fields
        wanted = "+".join(x for x in (f.id, f.question, f.gold) if x)
        rule = f" (gold = last \\boxed{{}} of {f.gold})" if self.gold_from == "last_boxed" else ""
        return f"{self.name}: {wanted}{rule}"


def detect_layout(
    task: str, layouts: Sequence[Layout], path: Path, first: Mapping[str, Any] | None, *, fixed: bool = False
) -> Layout:
    """The layout of ``layouts`` that a file whose first row is ``first`` is read in.

    ``fixed`` (a ``file:`` task, or an empty file): the first layout, whatever the row (a row lacking a field
    fails naming it, later). Otherwise the first layout whose fields the row has; none: a one-line
    ``SkyevalError`` naming the task, the file, the fields it has and the layouts the task reads.
    """
    if fixed or first is None:
        return layouts[0]
    for layout in layouts:
        if layout.matches(first):
            return layout
    found = ", ".join(sorted(first)) or "none"
    known = "; ".join(layout.describe() for layout in layouts)
    raise SkyevalError(
        f"{task}: {path} is in an unknown layout (its first row has the fields {found}); {task} reads: {known}"
    )
