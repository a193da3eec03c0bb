"""Crash-safe JSONL: streaming reads, append-only logs that survive ``kill -9``, atomic whole-file writes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from skyeval.errors import SkyevalError


def stable_hash(text: str, size: int = 16) -> str:
    """A short content hash that is the same in every process (unlike ``hash()``)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size // 2).hexdigest()


def read_jsonl(path: str | Path, *, tolerate_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Stream the JSON objects of a file. A malformed line is an error naming the line, except (when asked)
    the last line of an append-only log that a crash cut short, which carries no newline and is skipped."""
    path = Path(path)
    if not path.is_file():
        raise SkyevalError(f"no such file: {path}")
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as err:
                if tolerate_torn_tail and not raw.endswith(b"\n"):
                    return
                raise SkyevalError(f"{path}:{number}: malformed JSON line ({err.msg})") from None
            if not isinstance(row, dict):
                raise SkyevalError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield row


def _repair_tail(path: Path) -> None:
    """Cut a torn last line (no trailing newline) left by a crash, so appends start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
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
        _repair_tail(self.path)
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
    with tmp.open("w", encoding="utf-8") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
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
    """Atomically write one JSON document."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
