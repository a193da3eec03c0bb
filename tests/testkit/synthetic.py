"""Synthetic run directories for tests, benchmarks and demos (no model needed)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from skyeval import results
from skyeval.types import RunConfig, SampleRecord, SamplingParams

_FILLER = "Let us reason step by step about the quantities involved and check each case carefully. "
SUBJECTS = ("Algebra", "Geometry", "Number Theory", "Precalculus")
_WORDS = (
    "the of and to we is so let then x y n a b k equation term sum value case that this since each "
    "factor root integer prime solve check gives find equal number step total side angle area "
    "+ - = \\frac{1}{2} \\sqrt{3} ( ) 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47"
).split()


def sentence_pool(rng: random.Random, size: int = 4000) -> list[str]:
    """Random pseudo-math sentences: text that compresses about as well as real model output (gzip ~3x)."""
    out = []
    for _ in range(size):
        words = [rng.choice(_WORDS) if rng.random() < 0.8 else str(rng.randrange(10_000)) for _ in range(14)]
        out.append(" ".join(words).capitalize() + ". ")
    return out


def _body(rng: random.Random, chars: int, pool: list[str] | None, paragraph: int = 0) -> str:
    """``chars`` of text; with ``paragraph`` > 0, a blank line ends a paragraph every ~``paragraph`` sentences."""
    if pool is None:
        return (_FILLER * (chars // len(_FILLER) + 1))[:chars]
    parts: list[str] = []
    size = 0
    while size < chars:
        parts.append(rng.choice(pool))
        if paragraph and rng.random() < 1 / paragraph:
            parts[-1] = parts[-1].rstrip() + "\n\n"
        size += len(parts[-1])
    return "".join(parts)[:chars]


def make_record(**fields: Any) -> SampleRecord:
    """A graded sample with neutral defaults (problem ``p``, sample 0, answer ``1`` equal to gold ``1``);
    ``fields`` override any of them. ``reason`` follows ``correct`` unless given."""
    values: dict[str, Any] = {
        "problem_id": "p",
        "sample_index": 0,
        "prompt": "q",
        "completion": "c",
        "finish_reason": "stop",
        "prompt_tokens": None,
        "completion_tokens": None,
        "gold": "1",
        "extracted": "1",
        "correct": True,
        **fields,
    }
    values.setdefault("reason", "equal" if values["correct"] else "not_equal")
    return SampleRecord(**values)


def write_run_dir(path: Path, config: RunConfig, records: list[SampleRecord]) -> Path:
    """Write ``config.json`` and ``samples.jsonl`` through ``skyeval.results``, the runner's own writer."""
    path.mkdir(parents=True, exist_ok=True)
    results.write_config(path, config)
    results.rewrite_samples(path, records)
    return path


def synthetic_run(
    path: Path,
    *,
    model: str = "synthetic/model-a",
    task: str = "math500",
    problems: int = 20,
    samples: int = 8,
    accuracy: float = 0.6,
    completion_chars: int = 2000,
    max_tokens: int = 4096,
    seed: int = 0,
    varied_text: bool = False,
    paragraph_sentences: int = 0,
) -> Path:
    """A run of ``problems`` x ``samples`` with answers boxed at the end of ``completion_chars`` of text.

    Problem i has gold ``str(i)`` and a difficulty drawn around ``accuracy``; wrong samples answer one of a few
    wrong numbers or nothing. Token counts are len(text) / 4. ``varied_text`` fills completions with random
    sentences (realistic size and compressibility; slower) instead of one repeated sentence, in paragraphs of
    about ``paragraph_sentences`` sentences (0: one run-on paragraph, which makes every cut of the text end in a
    long "so ... is ..." sentence that the grader must try to parse; real completions break lines often).
    """
    rng = random.Random(seed)
    pool = sentence_pool(rng) if varied_text else None
    records = []
    for i in range(problems):
        p_correct = min(1.0, max(0.0, rng.gauss(accuracy, 0.3)))
        meta = {"subject": SUBJECTS[i % len(SUBJECTS)], "level": f"Level {i % 5 + 1}"}
        for j in range(samples):
            roll = rng.random()
            if roll < p_correct:
                answer: str | None = str(i)
            elif roll < p_correct + (1 - p_correct) * 0.8:
                answer = str(i + 1 + rng.randrange(3))
            else:
                answer = None
            body = _body(rng, max(0, completion_chars - 20), pool, paragraph_sentences)
            text = body + (f" \\boxed{{{answer}}}" if answer is not None else " I am not sure.")
            tokens = len(text) // 4
            records.append(
                SampleRecord(
                    problem_id=f"p{i:04d}",
                    sample_index=j,
                    prompt=f"Problem {i}: compute the number {i}. Put the answer in \\boxed{{}}.",
                    completion=text,
                    finish_reason="length" if tokens >= max_tokens else "stop",
                    prompt_tokens=20,
                    completion_tokens=tokens,
                    gold=str(i),
                    extracted=answer,
                    correct=answer == str(i),
                    reason="equal" if answer == str(i) else ("no_answer" if answer is None else "not_equal"),
                    meta=meta,
                )
            )
    config = RunConfig(
        model=model,
        task=task,
        engine="replay",
        sampling=SamplingParams(n=samples, temperature=0.6, max_tokens=max_tokens),
        system_prompt=None,
        prompt_template="{question}",
        problems=problems,
        problem_ids=tuple(f"p{i:04d}" for i in range(problems)),
        meta_fields=("subject", "level"),
    )
    return write_run_dir(path, config, records)
