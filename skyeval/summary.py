"""One definition of a run's numbers: ``skyeval run``, ``skyeval score`` and ``skyeval report`` all summarise here.

Policies (documented in docs/running.md, "Results schema"):

- **Scope**: the problems the run covers are ``config.problem_ids`` (recorded by ``run`` in task order; a
  config without them, e.g. one built by hand, covers the problems of ``samples.jsonl`` in file order), and of
  each problem the first ``n`` sample indices. Rows outside the scope (an earlier, larger run) are kept on disk
  but not summarised.
- **Duplicates**: one row per (problem_id, sample_index); the first row in ``samples.jsonl`` wins (it is what a
  resumed run counted as done). The count of the others is reported.
- **Order**: problems in task order; samples by index. The CI depends on the order, so this fixes it.
- **CI**: percentile bootstrap of the mean over problems, 1000 resamples, seed 0 (``skyeval.types.BootstrapCI``),
  at symmetric percentile indices. ``report --resamples/--seed`` draw others, and the report labels them.
- **maj@n and diversity**: ``skyeval.metrics.cluster_answers`` with ``skyeval.is_equivalent`` (memoised).
- **Breakdowns**: pass@1 per value of each of ``config.meta_fields`` (the task's declared fields, or
  ``--meta-field``), in natural value order (Level 2 before Level 10).
- **Source verdicts** (imported runs): the same pass@1, pass@k and maj@n by the source harness's own verdicts
  (``source_correct``; maj@n clusters ``source_extracted``), over the problems whose every sample has one, and
  the samples on which the source and we disagree (``skyeval.grading.disagreements``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from skyeval import metrics
from skyeval.grading.disagreements import VerdictPair, compare_verdicts
from skyeval.metrics import Same
from skyeval.types import (
    CI_CONFIDENCE,
    CI_RESAMPLES,
    CI_SEED,
    UNKNOWN_FINISH,
    BootstrapCI,
    Grade,
    GradeReason,
    GroupScore,
    RunConfig,
    RunSummary,
    SampleRecord,
    Scores,
    SourceScores,
    TokenStats,
)


@dataclass(frozen=True)
class ProblemSamples:
    """The samples of one problem in one run (the first ``n`` indices, ordered by ``sample_index``)."""

    problem_id: str
    gold: str
    prompt: str
    meta: Mapping[str, Any]
    samples: tuple[SampleRecord, ...]

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def c(self) -> int:
        return sum(s.correct for s in self.samples)


@dataclass(frozen=True)
class ProblemScore:
    """One problem's numbers: samples, correct ones, the majority vote's verdict, answer diversity, truncation."""

    problem_id: str
    n: int
    c: int
    maj_correct: bool
    diversity: metrics.Diversity
    truncated: int

    @property
    def pass_at_1(self) -> float:
        return self.c / self.n


def scope(config: RunConfig, records: Iterable[SampleRecord]) -> tuple[str, ...]:
    """The ids of the problems the run covers, in task order (see the module docstring)."""
    if config.problem_ids:
        return config.problem_ids
    return tuple(dict.fromkeys(r.problem_id for r in records))


def problem_total(config: RunConfig, records: Iterable[SampleRecord]) -> int:
    """How many problems the run covers: ``config.problems``, else the size of its scope."""
    return config.problems if config.problems is not None else len(scope(config, records))


def in_scope(records: Iterable[SampleRecord], config: RunConfig) -> list[SampleRecord]:
    """The rows the summary counts: the first row of each key, of the run's problems and first ``n`` indices."""
    rows = list(records)
    wanted = set(scope(config, rows))
    n = config.sampling.n
    seen: set[tuple[str, int]] = set()
    kept = []
    for r in rows:
        key = (r.problem_id, r.sample_index)
        if r.sample_index < n and r.problem_id in wanted and key not in seen:
            seen.add(key)
            kept.append(r)
    return kept


def problems_in_order(records: Iterable[SampleRecord], config: RunConfig) -> list[ProblemSamples]:
    """The in-scope samples grouped per problem, problems in task order, samples by index; problems without
    samples are left out (they count as missing)."""
    rows = in_scope(records, config)
    groups: dict[str, list[SampleRecord]] = {}
    for r in rows:
        groups.setdefault(r.problem_id, []).append(r)
    out = []
    for pid in scope(config, rows):
        recs = groups.get(pid)
        if not recs:
            continue
        recs.sort(key=lambda r: r.sample_index)
        first = recs[0]
        out.append(ProblemSamples(pid, first.gold, first.prompt, dict(first.meta), tuple(recs)))
    return out


def memoised(same: Same) -> Same:
    """``same`` with its verdicts cached (one summary asks about the same answer pairs many times)."""
    cache: dict[tuple[str, str], bool] = {}

    def cached(a: str, b: str) -> bool:
        key = (a, b)
        if key not in cache:
            cache[key] = bool(same(a, b))
        return cache[key]

    return cached


def equivalent(a: str, b: str) -> bool:
    """The default answer equivalence for clustering: ``skyeval.is_equivalent`` (imported when first used)."""
    from skyeval import is_equivalent

    return bool(is_equivalent(a, b))


def score_problem(p: ProblemSamples, same: Same | None) -> ProblemScore:
    """One problem's numbers (one clustering of its answers serves maj@n and diversity)."""
    answers = [s.extracted for s in p.samples]
    verdicts = [s.correct for s in p.samples]
    clusters = metrics.cluster_answers(answers, verdicts, same)
    winner = max(clusters, key=lambda c: (c.count, -c.first)) if clusters else None
    return ProblemScore(
        problem_id=p.problem_id,
        n=p.n,
        c=p.c,
        maj_correct=winner is not None and winner.correct,
        diversity=metrics.diversity(answers, clusters),
        truncated=sum(s.finish_reason == "length" for s in p.samples),
    )


def natural_order(value: str) -> tuple[int, str]:
    """Sort key of a breakdown value by the number it holds: ``Level 2`` before ``Level 10``."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return (int(digits) if digits else 1 << 30, value)


def _breakdown(
    fields: Sequence[str], problems: Sequence[ProblemSamples], scores: Sequence[ProblemScore]
) -> dict[str, dict[str, GroupScore]]:
    by: dict[str, dict[str, GroupScore]] = {}
    for key in fields:
        groups: dict[str, list[float]] = {}
        for p, s in zip(problems, scores, strict=True):
            if p.meta.get(key) is not None:
                groups.setdefault(str(p.meta[key]), []).append(s.pass_at_1)
        if groups:
            by[key] = {
                value: GroupScore(len(groups[value]), sum(groups[value]) / len(groups[value]))
                for value in sorted(groups, key=natural_order)
            }
    return by


def verdict_pairs(problems: Sequence[ProblemSamples]) -> list[tuple[SampleRecord, VerdictPair]]:
    """Every sample with a source verdict, paired with it as ``skyeval.grading.disagreements`` takes it
    (``row`` = 1-based problem position, ``sample`` = sample index)."""
    return [
        (s, VerdictPair(i, s.sample_index, s.gold, _grade(s), s.source_correct))
        for i, p in enumerate(problems, 1)
        for s in p.samples
        if s.source_correct is not None
    ]


def _grade(s: SampleRecord) -> Grade:
    return Grade(s.correct, s.extracted, cast(GradeReason, s.reason))


def source_scores(problems: Sequence[ProblemSamples], same: Same | None) -> SourceScores | None:
    """The run's numbers by its source's verdicts (module docstring); None when no sample has one."""
    pairs = verdict_pairs(problems)
    if not pairs:
        return None
    judged = [p for p in problems if all(s.source_correct is not None for s in p.samples)]
    counts = [(p.n, sum(bool(s.source_correct) for s in p.samples)) for p in judged]
    maj = None
    if judged and any(s.source_extracted is not None for p in judged for s in p.samples):
        wins = 0
        for p in judged:
            answers = [s.source_extracted for s in p.samples]
            clusters = metrics.cluster_answers(answers, [bool(s.source_correct) for s in p.samples], same)
            winner = max(clusters, key=lambda c: (c.count, -c.first)) if clusters else None
            wins += winner is not None and winner.correct
        maj = wins / len(judged)
    comparison = compare_verdicts([pair for _, pair in pairs])
    return SourceScores(
        samples=len(pairs),
        problems=len(judged),
        pass_at_1=sum(c / n for n, c in counts) / len(counts) if counts else 0.0,
        pass_at_k=metrics.pass_at_k_curve(counts) if counts else {},
        maj_at_n=maj,
        disagreements=len(comparison.disagreements),
        only_ours=comparison.only_ours,
        only_source=comparison.only_theirs,
    )


def summarize(
    config: RunConfig,
    problems: Sequence[ProblemSamples],
    scores: Sequence[ProblemScore],
    *,
    total: int,
    duplicates: int = 0,
    confidence: float = CI_CONFIDENCE,
    resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
    same: Same | None = equivalent,
) -> RunSummary:
    """The summary of ``problems`` (``problems_in_order``) and their ``scores`` (``score_problem``).

    ``total`` is the number of problems the run covers (``problem_total``); ``same`` clusters the source's
    answers of an imported run (the clustering ``scores`` were made with).
    """
    n = config.sampling.n
    samples = [s for p in problems for s in p.samples]
    expected = total * n
    summary = RunSummary(
        task=config.task,
        model=config.model,
        engine=config.engine,
        n=n,
        task_fingerprint=config.task_fingerprint,
        problems=total,
        problems_scored=len(problems),
        problems_complete=sum(p.n == n for p in problems),
        samples=len(samples),
        expected_samples=expected,
        missing=max(0, expected - len(samples)),
        complete=len(samples) >= expected,
        duplicates=duplicates,
        meta_fields=config.meta_fields,
    )
    if not problems:
        return summary
    accs = [s.pass_at_1 for s in scores]
    lo, hi = metrics.bootstrap_ci(accs, confidence=confidence, resamples=resamples, seed=seed)
    truncated = [r for r in samples if r.finish_reason == "length"]
    tokens = [r.completion_tokens for r in samples if r.completion_tokens is not None]
    return replace(
        summary,
        scores=Scores(
            pass_at_1=sum(accs) / len(accs),
            ci95=BootstrapCI(lo, hi, confidence, resamples, seed),
            pass_at_k=metrics.pass_at_k_curve([(s.n, s.c) for s in scores]),
            maj_at_n=sum(s.maj_correct for s in scores) / len(scores),
            truncated=len(truncated),
            truncation_rate=len(truncated) / len(samples),
            truncated_correct=sum(r.correct for r in truncated),
            response_tokens=TokenStats(
                mean=statistics.fmean(tokens) if tokens else None,
                median=float(statistics.median(tokens)) if tokens else None,
                counted=len(tokens),
            ),
            reasons=dict(Counter(r.reason for r in samples)),
            by=_breakdown(config.meta_fields, problems, scores),
            incomplete_reasoning=sum(r.reason == "incomplete_reasoning" for r in samples),
            finish_unknown=sum(r.finish_reason == UNKNOWN_FINISH for r in samples),
        ),
        source_scores=source_scores(problems, same),
    )


def summarize_run(
    records: Iterable[SampleRecord],
    config: RunConfig,
    *,
    duplicates: int = 0,
    same: Same | None = equivalent,
) -> RunSummary:
    """The canonical summary of a run's rows (what ``summary.json`` holds). ``same`` clusters answers for maj@n
    (memoised here; None: identical strings only). The first row of a key, in the given order, wins."""
    rows = list(records)
    problems = problems_in_order(rows, config)
    cached = memoised(same) if same is not None else None
    scores = [score_problem(p, cached) for p in problems]
    total = problem_total(config, rows)
    return summarize(config, problems, scores, total=total, duplicates=duplicates, same=cached)
