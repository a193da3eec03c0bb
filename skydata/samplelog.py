"""The teacher's sample log: raw samples appended the moment they arrive, verdicts in a second log, both keyed
by ``problem_key`` (a hash of the problem text) and sample index. The teacher writes it, rejection sampling
and RL prompt filtering read it; a kill loses no completed sample (ungraded ones are graded on resume)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from skydata.backend import Grader
from skydata.hashing import stable_hash
from skydata.records import Generation, Item
from skyeval.jsonl import AppendLog, read_jsonl
from skyeval.types import Completion


def problem_key(item: Item) -> str:
    """Samples are logged under a hash of the problem text, so they stay valid if upstream ids change."""
    return stable_hash(item.problem)


def grades_path(log_path: str | Path) -> Path:
    log_path = Path(log_path)
    return log_path.with_name(log_path.stem + ".grades.jsonl")


def load_generations(log_path: str | Path, *, with_text: bool = True) -> Iterator[Generation]:
    """Graded samples: the raw log joined with its verdict log (ungraded raw rows are not yielded).

    ``with_text=False`` yields light records (no text, with the line's byte offset; see ``read_text``)."""
    verdicts = {}
    if grades_path(log_path).exists():
        for row in read_jsonl(grades_path(log_path), tolerate_torn_tail=True):
            verdicts[(row["id"], row["sample_index"])] = row
    if not Path(log_path).exists():
        return
    with Path(log_path).open("rb") as fh:
        offset = 0
        for raw in fh:
            start, offset = offset, offset + len(raw)
            if not raw.endswith(b"\n"):
                return  # a torn last line from a crash
            if not raw.strip():
                continue
            row = json.loads(raw)
            v = verdicts.get((row["id"], row["sample_index"]))
            if v is not None:
                text = row["text"]
                yield Generation(
                    id=row["id"],
                    sample_index=row["sample_index"],
                    text=text if with_text else "",
                    chars=len(text),
                    finish_reason=row["finish_reason"],
                    completion_tokens=row.get("completion_tokens"),
                    correct=v["correct"],
                    grade_reason=v["reason"],
                    extracted=v.get("extracted"),
                    offset=start,
                )


def generations_by_problem(log_path: str | Path) -> dict[str, list[Generation]]:
    """Light records (verdicts and lengths, no text) grouped by ``problem_key``."""
    out: dict[str, list[Generation]] = {}
    for g in load_generations(log_path, with_text=False):
        out.setdefault(g.id, []).append(g)
    return out


def read_text(log_path: str | Path) -> Callable[[Generation], str]:
    """A reader of light records' texts (by byte offset into the raw log)."""

    def text_of(g: Generation) -> str:
        if g.text or g.offset < 0:
            return g.text
        with Path(log_path).open("rb") as fh:
            fh.seek(g.offset)
            return str(json.loads(fh.readline())["text"])

    return text_of


def raw_row(c: Completion) -> dict[str, object]:
    """The raw log line of one completion."""
    return {
        "id": c.problem_id,
        "sample_index": c.sample_index,
        "text": c.text,
        "finish_reason": c.finish_reason,
        "completion_tokens": c.completion_tokens,
    }


class GradedLog:
    """Raw samples are appended the moment they arrive; verdicts follow in batches in a second log, so a
    kill loses no completed sample (ungraded ones are graded on resume)."""

    def __init__(
        self, log_path: str | Path, grader: Grader, golds: Callable[[str], str], batch: int = 32
    ) -> None:
        self.raw = AppendLog(log_path)
        self.verdicts = AppendLog(grades_path(log_path))
        self.grader = grader
        self.golds = golds
        self.batch = batch
        self.pending: list[dict[str, object]] = []
        self.graded: list[Generation] = []

    def add(self, row: dict[str, object], *, write: bool = True) -> None:
        if write:
            self.raw.write(row)
        self.pending.append(row)
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        grades = self.grader(
            [str(r["text"]) for r in rows],
            [self.golds(str(r["id"])) for r in rows],
            [r["finish_reason"] == "stop" for r in rows],
        )
        for r, g in zip(rows, grades, strict=True):
            self.verdicts.write(
                {
                    "id": r["id"],
                    "sample_index": r["sample_index"],
                    "correct": g.correct,
                    "reason": g.reason,
                    "extracted": g.extracted,
                }
            )
            tokens = r.get("completion_tokens")
            self.graded.append(
                Generation(
                    str(r["id"]),
                    int(str(r["sample_index"])),
                    "",  # only the verdict is needed here; the text is in the log
                    len(str(r["text"])),
                    str(r["finish_reason"]),
                    int(str(tokens)) if tokens is not None else None,
                    g.correct,
                    g.reason,
                    g.extracted,
                )
            )

    def close(self) -> None:
        self.flush()
        self.raw.close()
        self.verdicts.close()
