"""Grading recorded samples again, never generating: which grader graded a sample, re-grading a run's rows,
and ``score`` (``skyeval score RUN_DIR``: re-grade a run directory and rewrite its summary).

Every sample records ``grader = "<GRADER_VERSION>/<policy>"``. A run directory graded by another grader version
or policy is re-graded when it is run (``regrade_stale``: only the rows graded otherwise) or scored (``score``:
every row), and the user is told so in one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.grading.version import GRADER_VERSION
from skyeval.summary import summarize_run
from skyeval.types import SCHEMA_VERSION, Grade, RunSummary, SampleRecord


def _note(line: str) -> None:
    """The default ``log``: a line on stderr, where the progress bar goes."""
    print(line, file=sys.stderr)


def grader_tag(policy: str) -> str:
    """What grades a sample now: ``"<GRADER_VERSION>/<policy>"``."""
    return f"{GRADER_VERSION}/{policy}"


def check_grading(timeout: float, policy: str, ray_address: str | None, replicas: int) -> None:
    """Refuse grading settings that cannot work: timeout, unknown policy, replicas without Ray."""
    if not timeout > 0:
        raise SkyevalError(f"--grade-timeout must be > 0, got {timeout:g}")
    from skyeval.grading import policy as preset

    preset(policy)  # an unknown name is its one-line error
    if replicas < 1:
        raise SkyevalError(f"--replicas must be >= 1, got {replicas}")
    if ray_address is None and replicas != 1:
        raise SkyevalError(f"--replicas {replicas} needs --ray (replicas are Ray actors)")


def finished_flag(finish_reason: str) -> bool | None:
    """``grade``'s ``finished`` for a recorded finish reason: stop True, length False, else (an imported
    sample whose source does not say) None."""
    return {"stop": True, "length": False}.get(finish_reason)


def graded_by(records: Iterable[SampleRecord]) -> str:
    """``grader 1/default`` or ``graders 1/default, an unrecorded one``: who graded ``records``."""
    tags = sorted({r.grader or "an unrecorded one" for r in records})
    return f"grader{'s' if len(tags) > 1 else ''} {', '.join(tags)}"


def regrade(
    records: Sequence[SampleRecord],
    *,
    timeout: float,
    policy: str,
    ray_address: str | None = None,
    replicas: int = 1,
    progress: bool = True,
    workers: int | None = None,
) -> list[SampleRecord]:
    """``records`` graded again with the current grader and ``policy`` (same order), tagged with it (and with
    the current schema version). ``workers``: grading processes (``grade_many``'s default when None)."""
    from skyeval import grade_many

    responses = [r.completion for r in records]
    golds = [r.gold for r in records]
    finished = [finished_flag(r.finish_reason) for r in records]
    if ray_address is None:
        verdicts = _grade_with_progress(
            grade_many, responses, golds, finished, timeout, progress, policy, workers=workers
        )
    else:
        from skyeval.scaleout import ray_grade_many

        verdicts = list(
            ray_grade_many(
                responses,
                golds,
                address=ray_address,
                replicas=replicas,
                timeout=timeout,
                progress=progress,
                finished=finished,
                policy=policy,
            )
        )
    tag = grader_tag(policy)
    return [
        replace(
            r,
            extracted=v.extracted,
            correct=v.correct,
            reason=v.reason,
            grader=tag,
            schema_version=SCHEMA_VERSION,
        )
        for r, v in zip(records, verdicts, strict=True)
    ]


def regrade_stale(
    run_dir: Path, *, timeout: float, policy: str, progress: bool, log: Callable[[str], None]
) -> list[SampleRecord]:
    """The rows of ``samples.jsonl``, those graded by another grader version or policy re-graded and the file
    rewritten (atomically); says so in one ``log`` line."""
    records = results.read_samples(run_dir)
    tag = grader_tag(policy)
    stale = [i for i, r in enumerate(records) if r.grader != tag]
    if not stale:
        return records
    before = graded_by(records[i] for i in stale)
    fresh = regrade([records[i] for i in stale], timeout=timeout, policy=policy, progress=progress)
    for i, record in zip(stale, fresh, strict=True):
        records[i] = record
    results.rewrite_samples(run_dir, records)
    log(
        f"note: {len(stale)} sample(s) in {run_dir} were graded by {before}; re-graded with grader {tag} "
        "(nothing generated)"
    )
    return records


def _grade_with_progress(
    grade_many: Callable[..., list[Grade]],
    responses: list[str],
    golds: list[str],
    finished: list[bool | None],
    timeout: float,
    progress: bool,
    policy: str,
    chunk: int = 256,
    workers: int | None = None,
) -> list[Grade]:
    from tqdm import tqdm

    verdicts: list[Grade] = []
    with tqdm(
        total=len(responses), unit="sample", desc="grading", disable=not progress, file=sys.stderr
    ) as bar:
        for start in range(0, len(responses), chunk):
            part = grade_many(
                responses[start : start + chunk],
                golds[start : start + chunk],
                timeout=timeout,
                finished=finished[start : start + chunk],
                workers=workers,
                policy=policy,
            )
            verdicts.extend(part)
            bar.update(len(part))
    return verdicts


def score(
    run_dir: str | Path,
    *,
    timeout: float = 5.0,
    ray_address: str | None = None,
    replicas: int = 1,
    progress: bool = True,
    policy: str = "default",
    log: Callable[[str], None] = _note,
) -> RunSummary:
    """Re-grade every sample of a run directory (e.g. after a grader change) and rewrite its summary.

    ``samples.jsonl`` is rewritten with one row per (problem_id, sample_index) (the first of repeated rows, and
    without a torn last line); the summary is the one ``run`` writes (``skyeval.summary``), over the problems
    and sample indices the last ``run`` covered. The grader version and ``policy`` used are recorded in
    ``config.json`` and in every sample; samples graded by another one are named in one ``log`` line.
    """
    path = Path(run_dir)
    check_grading(timeout, policy, ray_address, replicas)
    results.read_config(path)  # not a run directory: fail before the lock creates anything
    with results.lock(path):
        data = results.read_run(path)
        records = data.records
        if not records:
            raise SkyevalError(f"no samples to score in {path}")
        tag = grader_tag(policy)
        stale = [r for r in records if r.grader != tag]
        regraded = regrade(
            records,
            timeout=timeout,
            policy=policy,
            ray_address=ray_address,
            replicas=replicas,
            progress=progress,
        )
        results.rewrite_samples(path, regraded)
        config = replace(data.config, grader_version=GRADER_VERSION, grade_policy=policy)
        results.write_config(path, config)
        summary = summarize_run(regraded, config, duplicates=data.duplicates)
        results.write_summary(path, summary)
    if stale:
        log(
            f"note: {len(stale)} sample(s) in {path} had been graded by {graded_by(stale)}; now by grader {tag}"
        )
    return summary
