"""Planted-copy trials for decontamination, shared by tests/test_decontam.py and benchmarks/bench_decontam.py.

Five rounds, one per benchmark (the four of ``../shared/data`` and Minerva): the round's benchmark is the
*background* (its own problems, splices of its sentences, and the same splices carrying boilerplate phrases
mined from the indexed benchmarks), the other four are indexed and supply the planted copies, of four kinds:
verbatim, one sentence reworded, a one- or two-sentence prefix, one number changed.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skydata.decontam import BenchmarkProblem, ContaminationIndex, DecontamConfig, load_benchmarks
from skydata.textsig import grams, token_hashes, tokens

KINDS = ("verbatim", "reworded", "prefix", "number")

# Rewordings: a word or phrase of one sentence and what replaces it (case kept for the first letter).
SYNONYMS = {
    "find": "determine",
    "determine": "find",
    "compute": "calculate",
    "calculate": "compute",
    "evaluate": "compute",
    "what is": "find",
    "how many": "what number of",
    "largest": "greatest",
    "greatest": "largest",
    "smallest": "least",
    "least": "smallest",
    "integers": "whole numbers",
    "integer": "whole number",
    "let": "suppose",
    "suppose": "assume",
    "if": "when",
    "such that": "so that",
    "each": "every",
    "every": "each",
    "probability": "chance",
    "show": "prove",
    "prove": "show",
    "total": "overall",
    "number of": "count of",
    "real": "real-valued",
    "distinct": "different",
    "express": "write",
    "given": "known",
    "value": "numerical value",
    "sum": "total",
}
_SYNONYM = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, SYNONYMS), key=len, reverse=True)) + r")\b", re.I
)
LEAD_INS = (
    "The following problem appeared in a past competition.",
    "Solve the problem below and explain your reasoning.",
    "Problem 7.",
    "This is a practice question for the contest.",
    "Answer the following question.",
    "Read carefully before answering.",
)
_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[A-Z$\\(])")
_NUMBER = re.compile(r"\d+")


def read_minerva(path: str | Path) -> list[BenchmarkProblem]:
    """Minerva Math in the Qwen2.5-Math harness's layout (``problem``, ``solution``, ``idx``), read directly."""
    rows = (json.loads(line) for line in Path(path).read_text().splitlines() if line.strip())
    return [BenchmarkProblem("minerva_math", str(r["idx"]), r["problem"]) for r in rows]


def shared_benchmarks(shared_dir: Path) -> list[BenchmarkProblem]:
    """The four ``../shared/data`` benchmarks and Minerva: 1,517 problems."""
    bench = load_benchmarks(("aime24", "amc23", "math500", "olympiadbench"), data_dir=shared_dir / "data")
    return [*bench.problems, *read_minerva(shared_dir / "minerva" / "minerva_math.jsonl")]


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s]


def reword(text: str, rng: random.Random) -> str:
    """One sentence reworded: a word or phrase replaced by a synonym (two in a sentence of 16+ words), or,
    where no sentence has one, a word inserted at a sentence's start."""
    parts = sentences(text)
    options = [i for i, s in enumerate(parts) if _SYNONYM.search(s)]
    if not options:
        i = rng.randrange(len(parts))
        parts[i] = "Now, " + parts[i][:1].lower() + parts[i][1:]
        return " ".join(parts)
    i = rng.choice(options)
    hits = list(_SYNONYM.finditer(parts[i]))
    count = 2 if len(parts[i].split()) >= 16 and len(hits) >= 2 else 1
    s = parts[i]
    for m in sorted(rng.sample(hits, count), key=lambda m: -m.start()):
        new = SYNONYMS[m.group(0).lower()]
        new = new[:1].upper() + new[1:] if m.group(0)[:1].isupper() else new
        s = s[: m.start()] + new + s[m.end() :]
    parts[i] = s
    return " ".join(parts)


def prefix(text: str, rng: random.Random, pool: Sequence[str]) -> str:
    """One or two sentences before the problem: a lead-in or a sentence of another (background) problem."""
    lead = [
        rng.choice(LEAD_INS) if rng.random() < 0.5 else rng.choice(pool) for _ in range(rng.randint(1, 2))
    ]
    return " ".join([*lead, text])


def change_number(text: str, rng: random.Random) -> str | None:
    """One number changed (None for a problem without digits)."""
    found = list(_NUMBER.finditer(text))
    if not found:
        return None
    m = rng.choice(found)
    old = int(m.group(0))
    new = (
        rng.choice([d for d in range(10) if d != old])
        if old < 10
        else old + rng.choice([-3, -2, -1, 1, 2, 3])
    )
    return text[: m.start()] + str(new) + text[m.end() :]


def boilerplate(problems: Sequence[BenchmarkProblem], n: int = 8, min_df: int = 2) -> list[str]:
    """Word n-grams shared by at least ``min_df`` of ``problems``: the phrasing of the indexed benchmarks.
    Only phrases that are at most half of every problem holding them (so no phrase is itself a copy)."""
    df: Counter[int] = Counter()
    shortest: dict[int, int] = {}
    text: dict[int, str] = {}
    for p in problems:
        words = tokens(p.text)
        gs = grams(token_hashes(words), n)
        for i, g in enumerate(gs):
            text.setdefault(g, " ".join(words[i : i + n]))
            shortest[g] = min(shortest.get(g, len(words)), len(words))
        df.update(set(gs))
    return sorted(text[g] for g, c in df.items() if c >= min_df and shortest[g] >= 2 * n)


def background(
    held_out: Sequence[BenchmarkProblem], phrases: Sequence[str], rng: random.Random, splices: int
) -> list[str]:
    """Negatives: the held-out benchmark's problems, ``splices`` rows of 2-4 of its sentences from different
    problems, and ``splices`` more with 1-3 boilerplate phrases of the indexed benchmarks mixed in."""
    pool = [s for p in held_out for s in sentences(p.text)]
    rows = [p.text for p in held_out]
    for with_phrases in (False, True):
        for _ in range(splices):
            parts = rng.sample(pool, rng.randint(2, 4))
            if with_phrases and phrases:
                for phrase in rng.sample(phrases, min(len(phrases), rng.randint(1, 3))):
                    parts.insert(rng.randrange(len(parts) + 1), phrase.capitalize() + ".")
            rows.append(" ".join(parts))
    return rows


Flagger = Callable[[Sequence[BenchmarkProblem]], Callable[[str], str | None]]


def index_flagger(config: DecontamConfig = DecontamConfig()) -> Flagger:
    """Index the problems with ``ContaminationIndex``; a text flags as the ``task:id`` of its match."""

    def build(problems: Sequence[BenchmarkProblem]) -> Callable[[str], str | None]:
        index = ContaminationIndex(problems, config)

        def flag(text: str) -> str | None:
            match = index.find(text)
            return None if match is None else f"{match.task}:{match.id}"

        return flag

    return build


@dataclass
class TrialResult:
    planted: Counter[str] = field(default_factory=Counter)  # kind -> rows planted
    flagged: Counter[str] = field(default_factory=Counter)  # kind -> planted rows flagged
    attributed: Counter[str] = field(default_factory=Counter)  # kind -> flagged as the planted problem
    missed: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, task:id, row)
    by_length: dict[str, Counter[str]] = field(default_factory=dict)  # words bucket -> planted / flagged
    background: int = 0
    false_positives: list[tuple[str, str]] = field(default_factory=list)  # (row, task:id flagged)
    cpu_seconds: float = 0.0  # CPU time checking rows (index building excluded)
    words: int = 0  # words in all rows checked

    def recall(self, kind: str) -> float:
        return self.flagged[kind] / self.planted[kind]

    @property
    def rows(self) -> int:
        return self.background + sum(self.planted.values())


def length_bucket(words: int) -> str:
    return "<10" if words < 10 else "10-23" if words < 24 else "24-59" if words < 60 else "60+"


def planted_trial(
    problems: Sequence[BenchmarkProblem],
    per_kind: int,
    splices: int,
    *,
    seed: int = 0,
    flagger: Flagger | None = None,
) -> TrialResult:
    """Plant ``per_kind`` copies of each kind (spread over the five rounds) among the background rows and
    check every row with ``flagger`` (default: ``ContaminationIndex`` with its default settings)."""
    rng = random.Random(seed)
    build = flagger or index_flagger()
    tasks = sorted({p.task for p in problems})
    result = TrialResult()
    for r, task in enumerate(tasks):
        indexed = [p for p in problems if p.task != task]
        held_out = [p for p in problems if p.task == task]
        flag = build(indexed)
        pool = [s for p in held_out for s in sentences(p.text)]
        rows: list[tuple[str, str, BenchmarkProblem | None]] = [
            (text, "", None) for text in background(held_out, boilerplate(indexed), rng, splices)
        ]
        quota = per_kind // len(tasks) + (r < per_kind % len(tasks))
        for kind in KINDS:
            made = 0
            for p in rng.sample(indexed, len(indexed)):
                if made == quota:
                    break
                text = plant(kind, p.text, rng, pool)
                if text is not None:
                    rows.append((text, kind, p))
                    made += 1
        start = time.process_time()
        hits = [flag(text) for text, _, _ in rows]
        result.cpu_seconds += time.process_time() - start
        for (text, kind, source), hit in zip(rows, hits, strict=True):
            result.words += len(tokens(text))
            if source is None:
                result.background += 1
                if hit is not None:
                    result.false_positives.append((text, hit))
                continue
            bucket = result.by_length.setdefault(length_bucket(len(tokens(source.text))), Counter())
            result.planted[kind] += 1
            bucket["planted"] += 1
            if hit is None:
                result.missed.append((kind, f"{source.task}:{source.id}", text))
                continue
            result.flagged[kind] += 1
            bucket["flagged"] += 1
            result.attributed[kind] += hit == f"{source.task}:{source.id}"
    return result


def plant(kind: str, text: str, rng: random.Random, pool: Sequence[str]) -> str | None:
    """A copy of ``text`` of one of ``KINDS`` (None where the kind does not apply: no number to change)."""
    if kind == "verbatim":
        return text
    if kind == "reworded":
        return reword(text, rng)
    if kind == "prefix":
        return prefix(text, rng, pool)
    if kind == "number":
        return change_number(text, rng)
    raise ValueError(f"unknown kind {kind!r}")
