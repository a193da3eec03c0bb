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


def has_torn_tail(path: str | Path) -> bool:
    """Whether a non-empty file ends without a newline (the last line was cut short by a crash)."""
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size == 0:
        return False
    with path.open("rb") as fh:
        fh.seek(size - 1)
        return fh.read(1) != b"\n"


def _cannot_write(path: Path, err: OSError) -> SkyevalError:
    return SkyevalError(f"cannot write {path}: {err.strerror or err}")


@contextmanager
def atomic_jsonl(path: str | Path, *, parents: bool = True) -> Iterator[IO[str]]:
    """Write a whole file under a temporary name beside it and rename it into place only when complete.

    Readers never see a half-written file; on any failure the temporary file is removed and ``path`` is left as
    it was (so the input of a command may also be its output). ``parents`` creates missing folders. A folder
    that cannot be written is a one-line ``SkyevalError``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        fh = tmp.open("w", encoding="utf-8")
    except OSError as err:
        raise _cannot_write(path, err) from None
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_line(fh: IO[str], row: Mapping[str, Any], *, ensure_ascii: bool = False) -> None:
    fh.write(json.dumps(row, ensure_ascii=ensure_ascii) + "\n")


def write_jsonl(
    path: str | Path, rows: Iterable[Mapping[str, Any]], *, ensure_ascii: bool = False, parents: bool = True
) -> int:
    """Atomically write ``rows`` (``atomic_jsonl``); returns how many. ``ensure_ascii`` escapes non-ASCII (lone
    surrogates in model text then survive the round trip); a failed write is a one-line ``SkyevalError``."""
    count = 0
    try:
        with atomic_jsonl(path, parents=parents) as fh:
            for row in rows:
                write_line(fh, row, ensure_ascii=ensure_ascii)
                count += 1
    except OSError as err:
        raise _cannot_write(Path(path), err) from None
    return count


def read_json(path: str | Path) -> dict[str, Any]:
    """Read one JSON document that must be an object (``write_json``'s files); anything else is one line."""
    try:
        row = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise SkyevalError(f"cannot read {path}: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SkyevalError(f"malformed {path}: {err}") from None
    if not isinstance(row, dict):
        raise SkyevalError(f"malformed {path}: expected a JSON object, got {type(row).__name__}")
    return row


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write one JSON document (sorted keys, indented): readers never see a half-written file."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    try:
        with atomic_jsonl(path) as fh:
            fh.write(text)
    except OSError as err:
        raise _cannot_write(Path(path), err) from None
