"""Difficulty labels on the AoPS 1-10 scale from an LLM judge, with votes, a median and a resumable cache.

The judge answers in free text ending with ``Difficulty: <number>``; anything else is *unparsable* and is asked
again, up to ``MAX_ATTEMPTS`` attempts per vote. Every attempt is appended to a cache as it arrives, keyed by
what changes a vote: the problem's hash, the judge model id, the rubric version, temperature and max tokens
(the vote index and attempt are fields of the row; the endpoint URL is not in the key, so the same model
behind another port or proxy still hits). A re-run makes no new calls, an interrupted run resumes where it
stopped, and a failed request (never cached) is asked again. Each item ends ``labelled``, ``unparsable``
(no vote parsed after every attempt), ``judge_error`` (a vote's request failed) or ``not_needed``.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skydata.calls import Tally, ask, chunked
from skydata.hashing import stable_hash
from skydata.records import Item
from skydata.stage import StageResult, run_items
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


MAX_ATTEMPTS = 3  # asks per vote while the judge's reply stays unparsable

STATUSES = ("labelled", "unparsable", "judge_error", "not_needed")


def default_temperature(votes: int) -> float:
    """Greedy for one vote; 0.7 when several votes should differ."""
    return 0.0 if votes == 1 else 0.7


@dataclass(frozen=True)
class JudgeConfig:
    """The judge: ``model`` is its model id (in the cache key with the rubric version, temperature and max
    tokens); ``temperature`` None means ``default_temperature(votes)``."""

    model: str
    votes: int = 1
    temperature: float | None = None
    max_tokens: int = 1024
    batch: int = 256  # items per engine call (completions are cached as they arrive)

    @property
    def sampling_temperature(self) -> float:
        return default_temperature(self.votes) if self.temperature is None else self.temperature

    def cache_key(self, problem: str) -> str:
        """What changes a vote, except its index: problem hash, model id, rubric, temperature, max tokens."""
        t = self.sampling_temperature
        return f"{stable_hash(problem)}|{self.model}|{RUBRIC_VERSION}|t{t:g}|m{self.max_tokens}"


@dataclass
class _Vote:
    level: float | None = None
    attempts: int = 0

    def settled(self) -> bool:
        return self.level is not None or self.attempts >= MAX_ATTEMPTS


class JudgeCache:
    """Vote attempts by cache key, loaded from and appended to a JSONL file:
    ``{"key", "vote", "attempt", "level", "raw"}``. ``rejudge_unparsable`` forgets the unparsable attempts
    (they stay in the file), so those votes get ``MAX_ATTEMPTS`` new attempts."""

    def __init__(self, path: str | Path, *, rejudge_unparsable: bool = False) -> None:
        self.path = Path(path)
        self.votes: dict[str, dict[int, _Vote]] = {}
        self.forgotten = 0
        if self.path.exists():
            for row in read_jsonl(self.path, tolerate_torn_tail=True):
                if row["level"] is None and rejudge_unparsable:
                    self.forgotten += 1
                    continue
                vote = self._vote(row["key"], int(row["vote"]))
                vote.attempts += 1
                if vote.level is None and row["level"] is not None:
                    vote.level = float(row["level"])
        self._log = AppendLog(self.path)

    def _vote(self, key: str, vote: int) -> _Vote:
        return self.votes.setdefault(key, {}).setdefault(vote, _Vote())

    def add(self, key: str, vote: int, level: float | None, raw: str) -> None:
        v = self._vote(key, vote)
        self._log.write({"key": key, "vote": vote, "attempt": v.attempts, "level": level, "raw": raw[-400:]})
        v.attempts += 1
        if v.level is None:
            v.level = level

    def pending(self, key: str, votes: int) -> tuple[int, ...]:
        """The vote indices of ``key`` still to ask: never asked, or unparsable with attempts left."""
        have = self.votes.get(key, {})
        return tuple(i for i in range(votes) if i not in have or not have[i].settled())

    def attempts(self, key: str, vote: int) -> int:
        v = self.votes.get(key, {}).get(vote)
        return v.attempts if v is not None else 0

    def levels(self, key: str, votes: int) -> list[float | None]:
        have = self.votes.get(key, {})
        return [have[i].level if i in have else None for i in range(votes)]

    def close(self) -> None:
        self._log.close()


def _labelled(item: Item, cache: JudgeCache, key: str, k: int) -> Item:
    recorded = cache.levels(key, k)
    if cache.pending(key, k):  # a vote's request failed (or was never made): asked again on the next run
        return item.with_meta(difficulty=None, difficulty_status="judge_error", difficulty_votes=recorded)
    parsed = [x for x in recorded if x is not None]
    if not parsed:
        return item.with_meta(difficulty=None, difficulty_status="unparsable", difficulty_votes=recorded)
    return item.with_meta(
        difficulty=float(statistics.median(parsed)), difficulty_status="labelled", difficulty_votes=recorded
    )


@dataclass
class LabelCounts:
    """Items by final status, plus the request tally (units: votes of the items that need a label)."""

    status: Counter[str] = field(default_factory=Counter)
    tally: Tally = field(default_factory=Tally)


def label(
    items: Iterable[Item],
    engine: Engine,
    config: JudgeConfig,
    cache: JudgeCache,
    *,
    wanted: Callable[[Item], bool] = lambda item: True,
    counts: LabelCounts | None = None,
) -> Iterator[Item]:
    """Label every item ``wanted`` says needs it (others pass with ``difficulty_status="not_needed"``).

    Only votes missing from the cache are asked (``engine`` should be a ``LazyEngine`` so a fully cached run
    loads nothing). An unparsable reply is asked again at once with another seed, up to ``MAX_ATTEMPTS`` per
    vote; failed requests are counted in ``counts.tally`` and never cached."""
    counts = counts if counts is not None else LabelCounts()
    tally = counts.tally
    base = SamplingParams(
        n=config.votes, temperature=config.sampling_temperature, max_tokens=config.max_tokens, seed=0
    )
    failed: set[tuple[str, int]] = set()  # requests that failed in this run: asked again on the next run

    def ask_round(batch: list[Item]) -> bool:
        """One attempt at every pending vote of ``batch`` (by attempt number: the attempt is the seed);
        True when something was asked."""
        by_attempt: dict[int, dict[str, tuple[Item, list[int]]]] = {}
        for key, item in {config.cache_key(it.problem): it for it in batch}.items():
            for vote in cache.pending(key, config.votes):
                if (key, vote) not in failed:
                    slot = by_attempt.setdefault(cache.attempts(key, vote), {})
                    slot.setdefault(key, (item, []))[1].append(vote)
        for attempt, keyed in sorted(by_attempt.items()):
            requests = [
                GenerationRequest(key, judge_messages(it.problem), tuple(votes))
                for key, (it, votes) in keyed.items()
            ]
            asked = {(r.problem_id, v) for r in requests for v in r.sample_indices}
            for c in ask(engine, requests, replace(base, seed=attempt), tally):
                asked.discard((c.problem_id, c.sample_index))
                cache.add(c.problem_id, c.sample_index, parse_level(c.text), c.text)
            failed.update(asked)
        return bool(by_attempt)

    for batch in chunked(items, config.batch):
        todo = [it for it in batch if wanted(it)]
        tally.work += config.votes * len({config.cache_key(it.problem) for it in todo})
        for _ in range(MAX_ATTEMPTS):  # each round is one more attempt at the votes still unparsable
            if not ask_round(todo):
                break
        for item in batch:
            if not wanted(item):
                counts.status["not_needed"] += 1
                yield item.with_meta(difficulty=None, difficulty_status="not_needed")
                continue
            out = _labelled(item, cache, config.cache_key(item.problem), config.votes)
            counts.status[str(out.meta["difficulty_status"])] += 1
            yield out


def run(
    src: str | Path,
    out: str | Path,
    engine: Engine,
    config: JudgeConfig,
    cache_path: str | Path,
    *,
    wanted: Callable[[Item], bool] = lambda item: True,
    rejudge_unparsable: bool = False,
    progress: bool = True,
) -> StageResult:
    """The difficulty stage: ``label`` the items of ``src`` into ``out`` with the vote cache at
    ``cache_path``; ``extra`` counts items by status (labelled, unparsable, judge_error, not_needed)."""
    counts = LabelCounts()
    cache = JudgeCache(cache_path, rejudge_unparsable=rejudge_unparsable)
    try:
        res = run_items(
            "difficulty",
            src,
            out,
            lambda rows: label(rows, engine, config, cache, wanted=wanted, counts=counts),
            progress=progress,
        )
    finally:
        cache.close()
    extra: dict[str, Any] = {s: counts.status.get(s, 0) for s in STATUSES}
    if cache.forgotten:
        extra["rejudged_unparsable_attempts"] = cache.forgotten
    return StageResult(res.stage, res.rows_in, res.rows_out, res.dropped, extra).with_tally(counts.tally)


def status_line(result: StageResult) -> str:
    """``difficulty: labelled 9, unparsable 45, judge_error 3, not_needed 0`` from a difficulty result."""
    return "difficulty: " + ", ".join(f"{s} {result.extra.get(s, 0)}" for s in STATUSES)
