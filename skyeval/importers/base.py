"""What every importer returns: a harness's problems and samples with its own verdicts, and small shared readers.

A ``Source`` keeps what the files say and nothing more: golds are never taken from it (they come from the
task's data when joined), settings the files do not record are simply absent from ``settings``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import iter_jsonl
from skyeval.types import UNKNOWN_FINISH, SourceFile

SETTINGS = ("n", "temperature", "top_p", "max_tokens", "seed", "system_prompt")
"""The generation settings a source may record (``Source.settings`` keys; ``system_prompt`` is the text)."""


@dataclass(frozen=True)
class SourceSample:
    """One response as the source recorded it, with its extracted answer and verdict (None: not recorded)."""

    completion: str
    extracted: str | None = None
    correct: bool | None = None
    finish_reason: str = UNKNOWN_FINISH
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class SourceItem:
    """One problem of the source: where it is (``where``: file and line, for errors), how to find it in the
    task (``index``: its row in the benchmark file; ``question``: its text, or the prompt that embeds it when
    ``embedded``), the prompt the source sent, and its samples in order."""

    where: str
    samples: tuple[SourceSample, ...]
    index: int | None = None
    question: str | None = None
    embedded: bool = False
    prompt: str = ""


@dataclass(frozen=True)
class Source:
    """A harness's outputs: its items, the files read, the model it names, the generation settings it records
    (``SETTINGS`` keys), the numbers it published (``metrics``) and the same numbers recomputed from its own
    per-sample verdicts by its own definitions (``recomputed``: name -> (value, tolerance), the tolerance half
    a unit of the published precision), plus notes for the user."""

    format: str
    items: tuple[SourceItem, ...]
    files: tuple[SourceFile, ...]
    model: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    recomputed: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def source_file(path: Path, rows: int) -> SourceFile:
    """A file's record: absolute path, sha256 of its bytes, rows read from it."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return SourceFile(str(path.resolve()), digest.hexdigest(), rows)


def read_json(path: Path) -> Any:
    """A JSON file's content; missing or malformed files are one-line errors."""
    if not path.is_file():
        raise SkyevalError(f"file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SkyevalError(f"malformed JSON in {path}: {err}") from None


def jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:line, row)`` for each row of a JSONL file (``skyeval.jsonl``'s errors)."""
    for number, row in iter_jsonl(path):
        yield f"{path}:{number}", row


def field_of(row: Mapping[str, Any], name: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """``row[name]``, which must be a ``kind``; else a one-line error naming ``where`` and the field."""
    if name not in row:
        raise SkyevalError(f"{where}: no {name!r} field (is this the right --from format?)")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _kinds(kind):
        want = " or ".join(k.__name__ for k in _kinds(kind))
        raise SkyevalError(f"{where}: field {name!r} must be {want}, got {type(value).__name__}")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def verdict(value: Any, where: str, name: str) -> bool:
    """A 0/1 or boolean verdict; anything else (a fraction, a string) is a one-line error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise SkyevalError(f"{where}: {name} must be a verdict (true/false or 0/1), got {value!r}")


def optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def one_of(paths: Sequence[Path], suffixes: tuple[str, ...], what: str) -> list[Path]:
    """The paths ending in one of ``suffixes``; none is a one-line error naming ``what`` was expected."""
    found = [p for p in paths if p.name.endswith(suffixes)]
    if not found:
        listed = ", ".join(str(p) for p in paths)
        raise SkyevalError(f"no {what} among {listed} (expected a file ending in {' or '.join(suffixes)})")
    return found
