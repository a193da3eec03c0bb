"""Crash-safe JSONL shared by skyeval, skydata and skytrain: streaming reads with line-numbered errors,
append-only logs that survive ``kill -9``, and atomic whole-file writes.

A process killed mid-write leaves at most a torn last line (no trailing newline). Readers of append-only logs
skip it (``tolerate_torn_tail``) and ``AppendLog`` cuts it off before appending, so a resumed writer never glues
a new row onto a torn one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from skyeval.errors import SkyevalError


def iter_jsonl(path: str | Path, *, tolerate_torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream ``(line number, object)`` for each non-blank line; anything unreadable is a one-line SkyevalError.

    With ``tolerate_torn_tail``, a last line without a newline (a crash artefact of an append-only log) is
    skipped instead of parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise SkyevalError(f"file not found: {path}")
    try:
        fh = path.open("rb")
    except OSError as err:
        raise SkyevalError(f"cannot read {path}: {err.strerror}") from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            if tolerate_torn_tail and not raw.endswith(b"\n"):
                return
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except UnicodeDecodeError as err:
                raise SkyevalError(f"{path}:{number}: not UTF-8 ({err.reason})") from None
            except json.JSONDecodeError as err:
                raise SkyevalError(f"{path}:{number}: malformed JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise SkyevalError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield number, row


def read_jsonl(path: str | Path, *, tolerate_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Stream the JSON objects of a file (see ``iter_jsonl``)."""
    for _, row in iter_jsonl(path, tolerate_torn_tail=tolerate_torn_tail):
        yield row


def cut_torn_tail(path: str | Path) -> None:
    """Cut a torn last line (no trailing newline) left by a crash, so appends start on a fresh line."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


class AppendLog:
    """An append-only JSONL log: each row is written and flushed as one line, so a completed row survives
    ``kill -9``; a torn last line from a previous crash is cut on open."""

    def __init__(self, path: str | Path, *, fsync_every: int = 64) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        cut_torn_tail(self.path)
        self._fh: IO[str] = self.path.open("a", encoding="utf-8")
        self._fsync_every = fsync_every
        self._pending = 0

    def write(self, row: Mapping[str, Any]) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        self._pending += 1
        if self._pending >= self._fsync_every:
            os.fsync(self._fh.fileno())
            self._pending = 0

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def atomic_jsonl(path: str | Path) -> Iterator[IO[str]]:
    """Write a whole file under a temporary name and rename it into place only when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:  # an error or Ctrl-C mid-write: no half-written file is left behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_line(fh: IO[str], row: Mapping[str, Any]) -> None:
    fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Atomically write ``rows``; returns how many."""
    count = 0
    with atomic_jsonl(path) as fh:
        for row in rows:
            write_line(fh, row)
            count += 1
    return count


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write one JSON document (temp file + rename): readers never see a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
