"""The runner: the one place that composes task -> prompts -> engine -> grader -> run directory -> summary.

``run`` is resumable: it reads what the run directory already holds, asks the engine only for the missing
(problem, sample index) pairs, and appends each graded sample as it arrives. ``score`` re-grades a run
directory without generating.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skyeval import results
from skyeval.engines.build import EngineCache, build_engine
from skyeval.engines.build import run_options as engine_options_for
from skyeval.errors import SkyevalError
from skyeval.prompts import build_messages, resolve_prompt
from skyeval.summary import summarize_run
from skyeval.tasks import FILE_PREFIX, FieldMap, LoadedTask, TaskSpec, file_task, get_task, load_task
from skyeval.types import (
    SCHEMA_VERSION,
    Completion,
    GenerationRequest,
    Grade,
    Problem,
    RunConfig,
    RunSummary,
    SampleRecord,
    SamplingParams,
)


@dataclass(frozen=True)
class RunOptions:
    """What ``skyeval run`` was asked for; ``None`` sampling fields take the task's defaults."""

    model: str
    task: str
    engine: str = "vllm"
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    samples: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int = 0
    system_prompt: str | None = None  # a name from skyeval.prompts.PROMPTS; None: the model's default
    prompt_template: str | None = None
    limit: int | None = None
    output_dir: str = "runs"
    data_dir: str | None = None
    fields: FieldMap | None = None  # field mapping for ``file:PATH`` tasks
    ray_address: str | None = None
    replicas: int = 1
    grade_timeout: float = 5.0
    progress: bool = True


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``run``: the samples graded so far are kept and a partial ``summary.json`` is written."""

    def __init__(self, run_dir: Path, samples: int) -> None:
        super().__init__(
            f"interrupted: {samples} sample(s) kept in {run_dir}; re-run the same command to resume"
        )
        self.run_dir = run_dir
        self.samples = samples


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: RunSummary


def resolve_task(name: str, fields: FieldMap | None = None) -> TaskSpec:
    """A built-in task by name, or ``file:PATH`` with ``fields`` (default: id/question/answer)."""
    if name.startswith(FILE_PREFIX):
        return file_task(name[len(FILE_PREFIX) :], fields or FieldMap(question="question", gold="answer"))
    return get_task(name)


def prepare(options: RunOptions) -> tuple[LoadedTask, RunConfig, Path, str]:
    """Load the task and work out the run's config and directory (no generation)."""
    from skyeval.engines import engine_spec, preflight, public_options
    from skyeval.engines._common import check_model_path

    if engine_spec(options.engine).loads_model:  # an unknown engine fails here, before any loading or writing
        check_model_path(options.model)
    spec = resolve_task(options.task, options.fields)
    loaded = load_task(spec, options.data_dir)
    d = spec.sampling
    sampling = SamplingParams(
        n=options.samples if options.samples is not None else d.n,
        temperature=options.temperature if options.temperature is not None else d.temperature,
        top_p=options.top_p if options.top_p is not None else d.top_p,
        max_tokens=options.max_tokens if options.max_tokens is not None else d.max_tokens,
        seed=options.seed,
    )
    if sampling.n < 1:
        raise SkyevalError(f"--samples must be >= 1, got {sampling.n}")
    if sampling.temperature < 0:
        raise SkyevalError(f"--temperature must be >= 0, got {sampling.temperature:g}")
    if not 0 < sampling.top_p <= 1:
        raise SkyevalError(f"--top-p must be in (0, 1], got {sampling.top_p:g}")
    if sampling.max_tokens < 1:
        raise SkyevalError(f"--max-tokens must be >= 1, got {sampling.max_tokens}")
    if not options.grade_timeout > 0:
        raise SkyevalError(f"--grade-timeout must be > 0, got {options.grade_timeout:g}")
    engine_options = engine_options_for(options.engine, options.model, options.engine_options, spec)
    # extra, options, device, server answering: before the run directory is created (here, not on Ray)
    preflight(options.engine, engine_options, local=options.ray_address is None)
    if options.limit is not None and options.limit < 1:
        raise SkyevalError(f"--limit must be >= 1, got {options.limit}")
    prompt_name, system = resolve_prompt(options.system_prompt, options.model)
    selected = loaded.problems[: options.limit] if options.limit is not None else loaded.problems
    config = RunConfig(
        model=options.model,
        task=spec.name,
        engine=options.engine,
        sampling=sampling,
        system_prompt=system,
        prompt_template=options.prompt_template or spec.prompt_template,
        task_fingerprint=loaded.fingerprint,
        limit=options.limit,
        engine_options=public_options(options.engine, options.engine_options),
        versions=results.versions(),
        problems=len(selected),
        problem_ids=tuple(p.id for p in selected),
        meta_fields=spec.breakdown,
        system_prompt_name=prompt_name,
    )
    return loaded, config, results.run_dir_for(options.output_dir, config, prompt_name), prompt_name


def _check_resume(run_dir: Path, config: RunConfig) -> None:
    if not (run_dir / results.CONFIG).is_file():
        return
    old = results.read_config(run_dir)
    changed = results.identity_changes(old, config)
    if changed:
        raise SkyevalError(
            f"{run_dir} holds a run with different settings ({', '.join(changed)}); use another --output-dir"
        )
    if old.task_fingerprint and old.task_fingerprint != config.task_fingerprint:
        raise SkyevalError(
            f"task data changed since {run_dir} was started (fingerprint {old.task_fingerprint} -> "
            f"{config.task_fingerprint}); use another --output-dir"
        )


def _record(problem: Problem, prompt: str, completion: Completion, verdict: Grade) -> SampleRecord:
    return SampleRecord(
        problem_id=problem.id,
        sample_index=completion.sample_index,
        prompt=prompt,
        completion=completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        gold=problem.gold,
        extracted=verdict.extracted,
        correct=verdict.correct,
        reason=verdict.reason,
        meta=dict(problem.meta),
    )


def run(options: RunOptions, engines: EngineCache | None = None) -> RunResult:
    """Generate the missing samples of a run, grade and append each one, then write ``summary.json``.

    Raises ``SkyevalError`` (after writing a partial summary) when the engine fails; a re-run resumes.
    """
    from tqdm import tqdm

    from skyeval import grade

    loaded, config, run_dir, _ = prepare(options)
    problems = loaded.problems[: options.limit] if options.limit is not None else loaded.problems
    n = config.sampling.n
    with results.lock(run_dir):
        _check_resume(run_dir, config)
        results.write_config(run_dir, config)
        rows = results.read_samples(run_dir)
        done = results.dedupe(rows)
        duplicates = len(rows) - len(done)
        messages = {
            p.id: build_messages(config.system_prompt, config.prompt_template, p.question) for p in problems
        }
        requests = []
        for p in problems:
            missing = tuple(i for i in range(n) if (p.id, i) not in done)
            if missing:
                requests.append(GenerationRequest(p.id, messages[p.id], missing))
        wanted = {(r.problem_id, i) for r in requests for i in r.sample_indices}
        by_id = {p.id: p for p in problems}
        kept = [done[(p.id, i)] for p in problems for i in range(n) if (p.id, i) in done]
        correct = sum(r.correct for r in kept)
        failures: list[str] = []
        engine = None
        if requests:
            engine_opts = engine_options_for(
                options.engine, options.model, options.engine_options, loaded.spec
            )
            if engines is None:
                engine = build_engine(options.engine, engine_opts, options.ray_address, options.replicas)
            else:
                engine = engines.get(options.engine, engine_opts, options.ray_address, options.replicas)
        bar = tqdm(
            total=len(problems) * n,
            initial=len(kept),
            desc=f"{loaded.spec.name.rsplit('/', 1)[-1]} {config.model.rsplit('/', 1)[-1]}",
            unit="sample",
            disable=not options.progress,
            file=sys.stderr,
        )
        try:
            if engine is not None:
                with results.open_writer(run_dir) as writer:
                    for completion in engine.generate(requests, config.sampling):
                        key = (completion.problem_id, completion.sample_index)
                        if key not in wanted:
                            continue  # an engine repeating or inventing a sample never duplicates a row
                        if completion.finish_reason == "error":
                            failures.append(f"{key[0]}#{key[1]}: {completion.text}")
                            continue
                        wanted.discard(key)
                        problem = by_id[completion.problem_id]
                        verdict = grade(completion.text, problem.gold, timeout=options.grade_timeout)
                        record = _record(problem, messages[problem.id][-1].content, completion, verdict)
                        writer.write(record)
                        kept.append(record)
                        correct += record.correct
                        bar.update(1)
                        bar.set_postfix(acc=f"{correct / len(kept):.3f}", refresh=False)
        except SkyevalError as err:
            _write_summary(run_dir, kept, config, duplicates)
            raise SkyevalError(
                f"{err} (partial results kept in {run_dir}; re-run the same command to resume)"
            ) from err
        except KeyboardInterrupt as err:  # Ctrl-C: keep what was graded, summarise it, tell the user where
            _write_summary(run_dir, kept, config, duplicates)
            raise Interrupted(run_dir, len(kept)) from err
        finally:
            bar.close()
        summary = _write_summary(run_dir, kept, config, duplicates)
    if failures:
        raise SkyevalError(
            f"{len(failures)} sample(s) failed (first: {failures[0]}); results in {run_dir}, re-run to retry them"
        )
    if wanted:
        raise SkyevalError(
            f"the engine returned no completion for {len(wanted)} sample(s); re-run to retry them"
        )
    return RunResult(run_dir, summary)


def _write_summary(
    run_dir: Path, records: list[SampleRecord], config: RunConfig, duplicates: int
) -> RunSummary:
    """Summarise the run's rows (``skyeval.summary``, the one definition) and write ``summary.json``."""
    summary = summarize_run(records, config, duplicates=duplicates)
    results.write_summary(run_dir, summary)
    return summary


def score(
    run_dir: str | Path,
    *,
    timeout: float = 5.0,
    ray_address: str | None = None,
    replicas: int = 1,
    progress: bool = True,
) -> RunSummary:
    """Re-grade every sample of a run directory (e.g. after a grader change) and rewrite its summary.

    ``samples.jsonl`` is rewritten with one row per (problem_id, sample_index) (the first of repeated rows, and
    without a torn last line); the summary is the one ``run`` writes (``skyeval.summary``), over the problems
    and sample indices the last ``run`` covered.
    """
    from skyeval import grade_many

    path = Path(run_dir)
    if not timeout > 0:
        raise SkyevalError(f"--grade-timeout must be > 0, got {timeout:g}")
    results.read_config(path)  # not a run directory: fail before the lock creates anything
    with results.lock(path):
        data = results.read_run(path)
        records = data.records
        if not records:
            raise SkyevalError(f"no samples to score in {path}")
        responses = [r.completion for r in records]
        golds = [r.gold for r in records]
        if ray_address is None:
            verdicts = _grade_with_progress(grade_many, responses, golds, timeout, progress)
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
                )
            )
        regraded = [
            replace(
                r, extracted=v.extracted, correct=v.correct, reason=v.reason, schema_version=SCHEMA_VERSION
            )
            for r, v in zip(records, verdicts, strict=True)
        ]
        results.rewrite_samples(path, regraded)
        return _write_summary(path, regraded, data.config, data.duplicates)


def _grade_with_progress(
    grade_many: Callable[..., list[Grade]],
    responses: list[str],
    golds: list[str],
    timeout: float,
    progress: bool,
    chunk: int = 256,
) -> list[Grade]:
    from tqdm import tqdm

    verdicts: list[Grade] = []
    with tqdm(
        total=len(responses), unit="sample", desc="grading", disable=not progress, file=sys.stderr
    ) as bar:
        for start in range(0, len(responses), chunk):
            part = grade_many(responses[start : start + chunk], golds[start : start + chunk], timeout=timeout)
            verdicts.extend(part)
            bar.update(len(part))
    return verdicts
