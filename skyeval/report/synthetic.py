"""Synthetic run directories for tests, benchmarks and demos (no model needed)."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

from skyeval.types import RunConfig, SampleRecord, SamplingParams

_FILLER = "Let us reason step by step about the quantities involved and check each case carefully. "
SUBJECTS = ("Algebra", "Geometry", "Number Theory", "Precalculus")


def write_run_dir(path: Path, config: RunConfig, records: list[SampleRecord]) -> Path:
    """Write ``config.json`` and ``samples.jsonl`` as the runner does."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(asdict(config), indent=2), encoding="utf-8")
    with (path / "samples.jsonl").open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
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
) -> Path:
    """A run of ``problems`` x ``samples`` with answers boxed at the end of ``completion_chars`` of text.

    Problem i has gold ``str(i)`` and a difficulty drawn around ``accuracy``; wrong samples answer one of a few
    wrong numbers or nothing. Token counts are len(text) / 4.
    """
    rng = random.Random(seed)
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
            body = (_FILLER * (completion_chars // len(_FILLER) + 1))[: max(0, completion_chars - 20)]
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
    )
    return write_run_dir(path, config, records)
