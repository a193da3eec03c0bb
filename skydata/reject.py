"""Rejection sampling: keep teacher samples that are correct, finished and within length bounds; pick 1 or
k per problem (first, shortest or all); stop at a target number of problems. Every rejected sample and every
problem left without a kept sample is reported with its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skydata.records import Drop, Generation, Item
from skydata.samplelog import generations_by_problem, problem_key, read_text
from skydata.stage import StageResult, run_items
from skyeval.errors import SkyevalError

POLICIES: tuple[str, ...] = ("first", "shortest", "all")


@dataclass(frozen=True)
class Acceptance:
    """What a sample must satisfy: equivalent to the gold, finished with ``stop``, within length bounds."""

    require_correct: bool = True
    require_stop: bool = True
    min_chars: int = 0
    max_chars: int | None = None
    max_tokens: int | None = None

    def check(self, g: Generation) -> str | None:
        """None when accepted, else the reason for rejection."""
        if self.require_stop and g.finish_reason != "stop":
            return f"not_finished:{g.finish_reason}"
        if g.chars == 0:
            return "empty"
        if g.chars < self.min_chars:
            return "too_short"
        if self.max_chars is not None and g.chars > self.max_chars:
            return "too_long"
        if (
            self.max_tokens is not None
            and g.completion_tokens is not None
            and g.completion_tokens > self.max_tokens
        ):
            return "too_many_tokens"
        if self.require_correct and not g.correct:
            return f"wrong:{g.grade_reason}"
        return None


@dataclass(frozen=True)
class RejectConfig:
    acceptance: Acceptance = Acceptance()
    policy: str = "first"
    per_problem: int = 1  # samples kept per problem under "first"/"shortest" ("all" keeps every accepted one)
    target: int | None = None  # stop once this many problems have kept samples

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise SkyevalError(f"unknown keep policy {self.policy!r}; choose one of: {', '.join(POLICIES)}")
        if self.per_problem < 1:
            raise SkyevalError("--per-problem must be at least 1")


def sft_row(item: Item, g: Generation, teacher: str, text: str, teacher_model: str = "") -> dict[str, Any]:
    """One curated SFT example with its provenance (``teacher``: the alias or model id it was asked as)."""
    return {
        "id": f"{item.id}#{g.sample_index}",
        "problem_id": item.id,
        "problem": item.problem,
        "gold": item.gold,
        "source": item.source,
        "response": text,
        "sample_index": g.sample_index,
        "teacher": teacher,
        "teacher_model": teacher_model or teacher,
        "completion_tokens": g.completion_tokens,
        "meta": dict(item.meta),
    }


def choose(samples: list[Generation], config: RejectConfig) -> list[Generation]:
    ordered = sorted(samples, key=lambda g: g.sample_index)
    if config.policy == "all":
        return ordered
    if config.policy == "shortest":
        ordered = sorted(ordered, key=lambda g: (g.chars, g.sample_index))
    return ordered[: config.per_problem]


def reject(
    items: Iterable[Item],
    generations: Mapping[str, list[Generation]],
    config: RejectConfig,
    *,
    teacher: str,
    teacher_model: str = "",
    sample_reasons: Counter[str] | None = None,
    text_of: Callable[[Generation], str] = lambda g: g.text,
) -> Iterator[dict[str, Any] | Drop]:
    """SFT rows for items (in input order) with accepted samples; ``Drop``s for the others.

    ``generations`` maps ``samplelog.problem_key`` (a hash of the problem text, the key the teacher logs
    under) to that problem's samples.

    ``sample_reasons`` (if given) counts why individual samples were rejected; ``text_of`` reads a kept
    sample's text (``teacher.read_text`` for light records).
    """
    kept_problems = 0
    for item in items:
        if config.target is not None and kept_problems >= config.target:
            yield Drop(item.id, "over_target", f"target of {config.target} problems reached")
            continue
        samples = generations.get(problem_key(item), [])
        if not samples:
            yield Drop(item.id, "no_samples")
            continue
        ok = []
        reasons: Counter[str] = Counter()
        for g in samples:
            why = config.acceptance.check(g)
            if why is None:
                ok.append(g)
            else:
                reasons[why] += 1
        if sample_reasons is not None:
            sample_reasons.update(reasons)
        if not ok:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items()))
            yield Drop(item.id, "no_accepted_sample", detail)
            continue
        kept_problems += 1
        for g in choose(ok, config):
            yield sft_row(item, g, teacher, text_of(g), teacher_model)


def run(
    src: str | Path,
    log_path: str | Path,
    out: str | Path,
    config: RejectConfig,
    *,
    teacher: str,
    teacher_model: str = "",
    progress: bool = True,
) -> StageResult:
    """The reject stage: the items of ``src`` against the teacher log ``log_path``; SFT rows to ``out``.

    Only verdicts and lengths are held in memory; kept texts are read back from the log by byte offset.
    ``rows_out`` counts SFT rows (k per problem under ``all``); ``extra`` has problems kept and per-sample
    rejection reasons."""
    gens = generations_by_problem(log_path)
    reasons: Counter[str] = Counter()
    res = run_items(
        "reject",
        src,
        out,
        lambda rows: reject(
            rows,
            gens,
            config,
            teacher=teacher,
            teacher_model=teacher_model,
            sample_reasons=reasons,
            text_of=read_text(log_path),
        ),
        progress=progress,
    )
    extra = {
        "problems_kept": res.rows_in - sum(res.dropped.values()),
        "samples_rejected": dict(sorted(reasons.items())),
        "samples_total": sum(len(v) for v in gens.values()),
    }
    return StageResult(res.stage, res.rows_in, res.rows_out, res.dropped, extra)
