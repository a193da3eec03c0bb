"""Difficulty labels on the AoPS 1-10 scale from an LLM judge, with votes, a median and a resumable cache.

The judge answers in free text ending with ``Difficulty: <number>``; anything else is *unparsable* and the
item is kept with ``difficulty=None`` and ``difficulty_status="unlabelled"`` (selection then reports it). Every
vote is appended to a cache keyed by (problem hash, judge, rubric version) as it arrives, so a re-run makes no
new calls and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from skydata.io import stable_hash
from skydata.records import Item
from skyeval.jsonl import AppendLog, read_jsonl
from skyeval.types import Engine, GenerationRequest, Message, SamplingParams

RUBRIC_VERSION = "aops-1-10-v1"

RUBRIC = """You grade how hard a competition mathematics problem is, on the 1-10 scale used by the Art of \
Problem Solving community. Use these anchors (half steps such as 4.5 are allowed):
1: the easier half of AMC 8; routine one-step word problems.
2: the harder AMC 8 questions and the first third of AMC 10.
3: the middle of AMC 10 and the first half of AMC 12.
4: the last questions of AMC 12 and the first few AIME questions.
5: AIME questions in the middle of the paper (about 6 to 10).
6: the last AIME questions; the easiest USAJMO questions.
7: USAJMO/USAMO problems 1 and 4; typical national olympiad problems.
8: the middle USAMO problems and IMO problems 1 and 4.
9: USAMO problems 3 and 6; IMO problems 2 and 5.
10: the hardest IMO problems (3 and 6), which few contestants solve.
Rate the effort an expert contestant needs for a complete solution, not the length of the statement. Do not \
write a full solution. Think briefly, then end your reply with one line of the form
Difficulty: <number>"""

_MARKER = re.compile(
    r"difficulty\s*(?:level|rating)?\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)\s*\**\s*(?:/\s*10)?", re.I
)


def parse_level(text: str) -> float | None:
    """The number after the last ``Difficulty:`` marker if it is within 1..10; otherwise None (unparsable)."""
    matches = list(_MARKER.finditer(text))
    if not matches:
        return None
    value = float(matches[-1].group(1))
    return value if 1.0 <= value <= 10.0 else None


def judge_messages(problem: str) -> tuple[Message, ...]:
    return (Message("system", RUBRIC), Message("user", f"Problem:\n{problem}"))


@dataclass(frozen=True)
class JudgeConfig:
    judge: str  # identifies the judge in the cache key, e.g. "openai:gpt-4o-mini"
    votes: int = 1
    temperature: float = 0.0
    max_tokens: int = 1024
    batch: int = 256  # items per engine call (completions are cached as they arrive)


def cache_key(problem: str, judge: str) -> str:
    return f"{stable_hash(problem)}|{judge}|{RUBRIC_VERSION}"


class JudgeCache:
    """Votes by cache key, loaded from and appended to a JSONL file: ``{"key", "vote", "level", "raw"}``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.votes: dict[str, dict[int, float | None]] = {}
        if self.path.exists():
            for row in read_jsonl(self.path, tolerate_torn_tail=True):
                self.votes.setdefault(row["key"], {})[int(row["vote"])] = row["level"]
        self._log = AppendLog(self.path)

    def add(self, key: str, vote: int, level: float | None, raw: str) -> None:
        self.votes.setdefault(key, {})[vote] = level
        self._log.write({"key": key, "vote": vote, "level": level, "raw": raw[-400:]})

    def missing(self, key: str, votes: int) -> tuple[int, ...]:
        have = self.votes.get(key, {})
        return tuple(v for v in range(votes) if v not in have)

    def close(self) -> None:
        self._log.close()


def _labelled(item: Item, votes: dict[int, float | None], k: int) -> Item:
    recorded = [votes.get(v) for v in range(k)]
    parsed = [x for x in recorded if x is not None]
    if not parsed:
        status = "unlabelled" if len(votes) >= k else "judge_error"
        return item.with_meta(difficulty=None, difficulty_status=status, difficulty_votes=recorded)
    return item.with_meta(
        difficulty=float(statistics.median(parsed)), difficulty_status="labelled", difficulty_votes=recorded
    )


def label(
    items: Iterable[Item],
    make_engine: Callable[[], Engine],
    config: JudgeConfig,
    cache: JudgeCache,
    *,
    wanted: Callable[[Item], bool] = lambda item: True,
) -> Iterator[Item]:
    """Label every item ``wanted`` says needs it (others pass with ``difficulty_status="not_needed"``).

    The engine is built only when some vote is missing from the cache. Engine errors are not cached (the
    item is marked ``judge_error`` and retried on the next run); unparsable answers are cached as ``None``.
    """
    sampling = SamplingParams(
        n=config.votes, temperature=config.temperature, max_tokens=config.max_tokens, seed=0
    )
    built: list[Engine] = []
    chunk: list[Item] = []

    def flush() -> Iterator[Item]:
        requests = []
        for item in chunk:
            if wanted(item):
                key = cache_key(item.problem, config.judge)
                missing = cache.missing(key, config.votes)
                if missing:
                    requests.append(GenerationRequest(key, judge_messages(item.problem), missing))
        if requests:
            if not built:
                built.append(make_engine())
            for c in built[0].generate(requests, sampling):
                if c.finish_reason != "error":
                    cache.add(c.problem_id, c.sample_index, parse_level(c.text), c.text)
        for item in chunk:
            if not wanted(item):
                yield item.with_meta(difficulty=None, difficulty_status="not_needed")
            else:
                key = cache_key(item.problem, config.judge)
                yield _labelled(item, cache.votes.get(key, {}), config.votes)

    for item in items:
        chunk.append(item)
        if len(chunk) >= config.batch:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()
