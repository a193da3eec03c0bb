"""The rows skydata stages pass along: a problem to curate (``Item``) and a removal record (``Drop``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    """One problem being curated. ``meta`` carries provenance and labels (difficulty, teacher, ...)."""

    id: str
    problem: str
    gold: str
    source: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "problem": self.problem,
            "gold": self.gold,
            "source": self.source,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Item:
        return cls(
            str(row["id"]),
            str(row["problem"]),
            str(row["gold"]),
            str(row["source"]),
            dict(row.get("meta") or {}),
        )

    def with_meta(self, **updates: Any) -> Item:
        return Item(self.id, self.problem, self.gold, self.source, {**self.meta, **updates})


@dataclass(frozen=True)
class Drop:
    """A row a stage removed, and why. Every stage writes these next to its output: nothing vanishes silently."""

    id: str
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    """One teacher (or policy) sample for an item, with its verdict against the gold.

    ``chars`` is the length of the sample's text. A *light* record (``text=""``) keeps only ``offset``, the byte
    offset of the sample's line in its log, so rejection can hold every sample's verdict in memory and read
    back only the texts it keeps.
    """

    id: str
    sample_index: int
    text: str
    chars: int
    finish_reason: str
    completion_tokens: int | None
    correct: bool
    grade_reason: str
    extracted: str | None
    offset: int = -1
