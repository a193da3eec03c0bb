"""The import runner: another harness's outputs -> an ordinary skyeval run directory (``skyeval import``).

The one place that composes task -> importer -> join -> grade -> run directory -> summary, as
``skyeval.runner`` does for generation. Everything that can be checked comes first (format and its options,
files, grading settings, the task and its data, the output folder); then the files are read and joined to the
task (golds from the task's data, never the source's), every sample is graded by us
(``skyeval.regrade.regrade``) next to the source's own verdict (``source_correct``/``source_extracted``), and
``config.json``, ``samples.jsonl`` and ``summary.json`` are written (atomically; re-importing the same files
replaces them). The engine is recorded as ``import-<format>``; settings the source does not record are listed
in ``config.unknown`` and hold placeholders. The numbers the source published (its metrics file) are
recomputed from its own verdicts by its own definition; a mismatch is a warning the command exits on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.grading.version import GRADER_VERSION
from skyeval.importers import check_options, importer_spec, read_source
from skyeval.importers.base import SETTINGS, Source
from skyeval.importers.join import Joined, join
from skyeval.preflight import Preflight
from skyeval.prompts import REGISTRY
from skyeval.regrade import check_grading, grader_tag, regrade
from skyeval.summary import summarize_run
from skyeval.tasks import LoadedTask, local_path, resolve_task
from skyeval.types import ImportSource, RunConfig, RunSummary, SampleRecord, SamplingParams

PLACEHOLDER_MAX_TOKENS = 32768
"""``max_tokens`` recorded for a source that does not say (listed in ``unknown``; the report's budget ladder
needs a positive limit)."""


@dataclass(frozen=True)
class ImportOptions:
    """What ``skyeval import`` was asked for."""

    paths: tuple[str, ...]
    format: str
    task: str
    model: str | None = None  # the run's model label (default: the model the source names)
    output_dir: str = "runs"
    data_dir: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # the format's own (``-S KEY=VALUE``)
    grade_timeout: float = 5.0
    grade_policy: str = "default"
    workers: int | None = None  # grading processes (``grade_many``'s default when None)
    progress: bool = True


@dataclass(frozen=True)
class ImportResult:
    run_dir: Path
    summary: RunSummary
    warnings: tuple[str, ...] = ()  # what the command reports and exits 2 on, after writing the run


def _note(line: str) -> None:
    print(line, file=sys.stderr)


def _check(opts: ImportOptions) -> LoadedTask:
    """Every check that needs no source file read, all problems in one line; the task's data loaded."""
    pf = Preflight()
    spec = pf.check(importer_spec, opts.format)
    if spec is not None:
        pf.passes(check_options, opts.format, opts.options)
    if not opts.paths:
        pf.problem("no files to import")
    for path in opts.paths:
        if not Path(path).is_file():
            pf.problem(f"file not found: {path}")
    pf.passes(check_grading, opts.grade_timeout, opts.grade_policy, None, 1)
    task = pf.check(resolve_task, opts.task)
    if (
        task is not None
        and spec is not None
        and spec.join == "index"
        and local_path(task, opts.data_dir) is None
    ):
        pf.problem(
            f"--from {opts.format} joins on idx, the row index in the harness's own data file: give --data-dir "
            f"DIR holding {task.name}.jsonl in the harness's layout"
        )
    elif task is not None:
        task = pf.task(opts.task, None, opts.data_dir)  # the Hub is probed when the data must come from it
    pf.writable_dir(opts.output_dir, "run directory under")
    pf.raise_problems()
    assert task is not None
    (loaded,) = pf.load_tasks([(task, opts.data_dir)])
    pf.raise_problems()
    assert loaded is not None
    return loaded


def _sampling(source: Source, n: int) -> tuple[SamplingParams, tuple[str, ...]]:
    """The recorded sampling (placeholders where the source is silent) and the settings it is silent on."""
    s = source.settings
    unknown = tuple(k for k in SETTINGS if k != "n" and s.get(k) is None)
    sampling = SamplingParams(
        n=n,
        temperature=float(s.get("temperature", 0.0)),
        top_p=float(s.get("top_p", 1.0)),
        max_tokens=int(s.get("max_tokens", PLACEHOLDER_MAX_TOKENS)),
        seed=s.get("seed"),
    )
    return sampling, ("prompt_template", *unknown)


def _records(joined: list[Joined], tag: str) -> list[SampleRecord]:
    """The samples as rows of ``samples.jsonl``, not graded yet (``regrade`` grades them)."""
    return [
        SampleRecord(
            problem_id=j.problem.id,
            sample_index=i,
            prompt=j.item.prompt or j.problem.question,
            completion=s.completion,
            finish_reason=s.finish_reason,
            prompt_tokens=s.prompt_tokens,
            completion_tokens=s.completion_tokens,
            gold=j.problem.gold,
            extracted=None,
            correct=False,
            reason="",
            meta=dict(j.problem.meta),
            grader=tag,
            source_extracted=s.extracted,
            source_correct=s.correct,
        )
        for j in joined
        for i, s in enumerate(j.item.samples)
    ]


def _metric_warnings(source: Source, log: Callable[[str], None]) -> list[str]:
    """Each published number against the same number recomputed from the source's verdicts."""
    warnings = []
    for key, (mine, tolerance) in source.recomputed.items():
        published = source.metrics.get(key)
        if published is None:
            continue
        if abs(mine - published) <= tolerance:
            log(
                f"note: the {source.format} verdicts give {key} {mine:.6g}, the {published:g} its metrics file "
                "publishes"
            )
        else:
            warnings.append(
                f"the {source.format} verdicts give {key} {mine:.6g} but its metrics file publishes {published:g}: "
                "are all its files given, and is this the file the metrics were written for?"
            )
    return warnings


def import_run(opts: ImportOptions, *, log: Callable[[str], None] = _note) -> ImportResult:
    """Import ``opts.paths`` as a run directory (see the module docstring); one-line ``SkyevalError`` on any
    problem, with nothing written."""
    task = _check(opts)
    source = read_source(opts.format, [Path(p) for p in opts.paths], opts.options)
    model = opts.model or source.model
    if not model:
        raise SkyevalError(f"--model LABEL is needed: the {opts.format} files do not name the model")
    joined = join(source.items, task, importer_spec(opts.format).join)
    if not joined:
        raise SkyevalError(f"no samples in {', '.join(opts.paths)}")
    n = max(len(j.item.samples) for j in joined)
    short = [j for j in joined if len(j.item.samples) != n]
    if short:
        raise SkyevalError(
            f"{short[0].item.where}: {len(short[0].item.samples)} samples where others have {n}"
        )
    for note in source.notes:
        log(f"note: {note}")
    tag = grader_tag(opts.grade_policy)
    records = regrade(
        _records(joined, tag),
        timeout=opts.grade_timeout,
        policy=opts.grade_policy,
        progress=opts.progress,
        workers=opts.workers,
    )
    sampling, unknown = _sampling(source, n)
    system = source.settings.get("system_prompt")
    names = [p.name for p in REGISTRY.values() if p.role == "system" and p.text == system]
    config = RunConfig(
        model=model,
        task=task.spec.name,
        engine=f"import-{opts.format}",
        sampling=sampling,
        system_prompt=system if isinstance(system, str) else None,
        prompt_template="",
        task_fingerprint=task.fingerprint,
        versions=results.versions(),
        problems=len(joined),
        problem_ids=tuple(j.problem.id for j in joined),
        meta_fields=task.spec.breakdown,
        system_prompt_name=names[0] if names else "",
        grader_version=GRADER_VERSION,
        grade_policy=opts.grade_policy,
        source=ImportSource(
            opts.format, source.files, dict(source.metrics), dict(source.settings), opts.options
        ),
        unknown=unknown,
    )
    run_dir = results.run_dir_for(opts.output_dir, config, "import")
    summary = summarize_run(records, config)
    with results.lock(run_dir):
        results.write_config(run_dir, config)
        results.rewrite_samples(run_dir, records)
        results.write_summary(run_dir, summary)
    return ImportResult(run_dir, summary, tuple(_metric_warnings(source, log)))
