"""The runner: the one place that composes task -> prompts -> engine -> grader -> run directory -> summary.

``run`` is resumable: it reads what the run directory already holds, asks the engine only for the missing
(problem, sample index) pairs, and appends each graded sample as it arrives. Before anything is loaded or
written, ``prepare_all`` checks every run of a command at once (``skyeval.preflight``): a bad last ``--task``
fails before the first one generates. Samples graded by another grader version or policy are re-graded (never
regenerated) when the directory is run or scored again. ``score`` re-grades a run directory without generating.

"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from skyeval import results
from skyeval.engines.build import EngineCache, build_engine
from skyeval.engines.build import run_options as engine_options_for
from skyeval.errors import SkyevalError
from skyeval.grading.version import GRADER_VERSION
from skyeval.hub import HubClient
from skyeval.preflight import Preflight
from skyeval.prompts import build_messages, resolve_prompt
from skyeval.protocols import Resolved, get_protocol, resolve, resolve_sampling
from skyeval.regrade import check_grading, grader_tag, regrade_stale
from skyeval.signals import SignalInterrupt
from skyeval.summary import summarize_run
from skyeval.tasks import FieldMap, LoadedTask, TaskSpec
from skyeval.types import (
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
    system_prompt: str | None = None  # a name from skyeval.prompts.PROMPTS; None: protocol, model, task
    prompt_template: str | None = None
    protocol: str | None = None  # a preset of skyeval.protocols: its values where no explicit one is given
    limit: int | None = None
    output_dir: str = "runs"
    data_dir: str | None = None
    fields: FieldMap | None = None  # field mapping for ``file:PATH`` tasks
    ray_address: str | None = None
    replicas: int = 1
    grade_timeout: float = 5.0
    grade_policy: str = "default"  # a name from skyeval.grading's policies; recorded, not identity
    progress: bool = True


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP during ``run``: the samples graded so far are kept and a partial
    ``summary.json`` is written."""

    def __init__(self, run_dir: Path, samples: int, signame: str = "") -> None:
        how = f" ({signame})" if signame else ""
        super().__init__(
            f"interrupted{how}: {samples} sample(s) kept in {run_dir}; re-run the same command to resume"
        )
        self.run_dir = run_dir
        self.samples = samples


class PreparedRun(NamedTuple):
    """A run checked and ready to go: its task's problems, its config and its directory (not created yet)."""

    loaded: LoadedTask
    config: RunConfig
    run_dir: Path
    prompt_name: str


def _note(line: str) -> None:
    """The default ``log``: a line on stderr, where the progress bar goes."""
    print(line, file=sys.stderr)


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: RunSummary


def _given(options: RunOptions) -> dict[str, Any]:
    """The sampling values given explicitly (None: not given) and the seed, as ``skyeval.protocols`` takes them."""
    o = options
    return {"samples": o.samples, "temperature": o.temperature, "top_p": o.top_p, "max_tokens": o.max_tokens,
            "seed": o.seed}  # fmt: skip


def _sampling(options: RunOptions, spec: TaskSpec) -> SamplingParams:
    """The run's sampling (flag > protocol > task); out-of-range values refused."""
    sampling, _ = resolve_sampling(spec, options.protocol, **_given(options))
    _check_sampling(sampling)
    return sampling


def _resolve(options: RunOptions, spec: TaskSpec) -> Resolved:
    """The run's settings (``skyeval.protocols.resolve``: flag > protocol > model > task); out-of-range
    sampling refused."""
    resolved = resolve(
        spec,
        options.model,
        options.protocol,
        system_prompt=options.system_prompt,
        prompt_template=options.prompt_template,
        **_given(options),
    )
    _check_sampling(resolved.sampling)
    return resolved


def _check_sampling(sampling: SamplingParams) -> None:
    if sampling.n < 1:
        raise SkyevalError(f"--samples must be >= 1, got {sampling.n}")
    if sampling.temperature < 0:
        raise SkyevalError(f"--temperature must be >= 0, got {sampling.temperature:g}")
    if not 0 < sampling.top_p <= 1:
        raise SkyevalError(f"--top-p must be in (0, 1], got {sampling.top_p:g}")
    if sampling.max_tokens < 1:
        raise SkyevalError(f"--max-tokens must be >= 1, got {sampling.max_tokens}")


def _check_run_settings(options: RunOptions) -> None:
    """The settings that depend on no task: limit, grading, replicas."""
    if options.limit is not None and options.limit < 1:
        raise SkyevalError(f"--limit must be >= 1, got {options.limit}")
    check_grading(options.grade_timeout, options.grade_policy, options.ray_address, options.replicas)


def prepare_all(
    runs: Sequence[RunOptions],
    *,
    hub_client: HubClient | None = None,
    log: Callable[[str], None] = _note,
) -> list[PreparedRun]:
    """Check every run of a command and load every task before anything is generated or written.

    All problems found (unknown tasks, missing data files or extras, bad options or devices, a server down,
    the Hub offline for a task without local data, an output folder that cannot be written, a run directory
    holding other settings) are raised together in one ``SkyevalError``. Notes (working offline) go to ``log``.
    ``hub_client`` resolves Hub model revisions (default: ``huggingface_hub``).
    """
    from skyeval.engines import engine_spec, public_options

    pf = Preflight(hub_client=hub_client)
    specs = [pf.task(o.task, o.fields, o.data_dir) for o in runs]
    checked_engines: set[str] = set()
    sources = []
    for options, spec in zip(runs, specs, strict=True):
        pf.passes(_check_run_settings, options)
        engine = pf.check(engine_spec, options.engine)  # an unknown engine: nothing more to check about it
        if engine is not None and spec is not None:
            opts = pf.check(engine_options_for, options.engine, options.model, options.engine_options, spec)
            key = json.dumps([options.engine, opts, options.ray_address], sort_keys=True, default=str)
            if opts is not None and key not in checked_engines:
                checked_engines.add(key)
                pf.engine(options.engine, opts, ray=options.ray_address is not None)
        pf.writable_dir(options.output_dir, "run directory under")
        sources.append(pf.model(options.model, loads_model=engine.loads_model) if engine else None)
        if options.protocol is not None:
            pf.check(get_protocol, options.protocol)
        pf.check(resolve_prompt, options.system_prompt, options.model)
        if spec is not None:
            pf.check(_sampling, options, spec)
    loaded = pf.load_tasks(
        (spec, o.data_dir) for o, spec in zip(runs, specs, strict=True) if spec is not None
    )
    pf.raise_problems()

    prepared = []
    for options, task, source in zip(runs, loaded, sources, strict=True):
        assert task is not None  # every task loaded, or raise_problems raised
        settings = _resolve(options, task.spec)
        prompt_name = settings.prompt_name
        selected = task.problems[: options.limit] if options.limit is not None else task.problems
        config = RunConfig(
            model=options.model,
            task=task.spec.name,
            engine=options.engine,
            sampling=settings.sampling,
            system_prompt=settings.system_prompt,
            prompt_template=settings.prompt_template,
            task_fingerprint=task.fingerprint,
            limit=options.limit,
            engine_options=public_options(options.engine, options.engine_options),
            versions=results.versions(),
            problems=len(selected),
            problem_ids=tuple(p.id for p in selected),
            meta_fields=task.spec.breakdown,
            system_prompt_name=prompt_name,
            model_source=source,
            grader_version=GRADER_VERSION,
            grade_policy=options.grade_policy,
            protocol=options.protocol or "",
            resolved=settings.sources,
            response_prefill=settings.prefill,
        )
        run_dir = results.run_dir_for(options.output_dir, config, prompt_name)
        pf.passes(_check_resume, run_dir, config)  # without the lock: run() checks again holding it
        prepared.append(PreparedRun(task, config, run_dir, prompt_name))
    pf.raise_problems()
    for note in pf.notes:
        log(f"note: {note}")
    return prepared


def prepare(options: RunOptions) -> PreparedRun:
    """Check and load one run (``prepare_all`` of one); nothing is generated or written."""
    return prepare_all([options])[0]


def _check_resume(run_dir: Path, config: RunConfig) -> None:
    """Refuse a run directory whose recorded identity or task data differ from ``config``'s."""
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


def _record(
    problem: Problem, prompt: str, completion: Completion, verdict: Grade, grader: str
) -> SampleRecord:
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
        grader=grader,
    )


def run(
    options: RunOptions,
    engines: EngineCache | None = None,
    *,
    prepared: PreparedRun | None = None,
    log: Callable[[str], None] = _note,
) -> RunResult:
    """Generate the missing samples of a run, grade and append each one, then write ``summary.json``.

    ``prepared``: this run from ``prepare_all`` (which checks a command's runs together); without it the run is
    prepared here. Raises ``SkyevalError`` (after writing a partial summary) when the engine fails, and
    ``Interrupted`` on Ctrl-C (or SIGTERM/SIGHUP, see ``skyeval.signals``); a re-run resumes.
    """
    from tqdm import tqdm

    from skyeval import grade

    loaded, config, run_dir, _ = prepared if prepared is not None else prepare_all([options], log=log)[0]
    problems = loaded.problems[: options.limit] if options.limit is not None else loaded.problems
    n = config.sampling.n
    tag = grader_tag(config.grade_policy)
    with results.lock(run_dir):
        _check_resume(run_dir, config)
        results.write_config(run_dir, config)
        rows = regrade_stale(
            run_dir,
            timeout=options.grade_timeout,
            policy=config.grade_policy,
            progress=options.progress,
            log=log,
        )
        done = results.dedupe(rows)
        duplicates = len(rows) - len(done)
        messages = {
            p.id: build_messages(config.system_prompt, config.prompt_template, p.question) for p in problems
        }
        requests = []
        for p in problems:
            missing = tuple(i for i in range(n) if (p.id, i) not in done)
            if missing:
                requests.append(GenerationRequest(p.id, messages[p.id], missing, config.response_prefill))
        wanted = {(r.problem_id, i) for r in requests for i in r.sample_indices}
        by_id = {p.id: p for p in problems}
        kept = [done[(p.id, i)] for p in problems for i in range(n) if (p.id, i) in done]
        correct = sum(r.correct for r in kept)
        failures: list[str] = []
        bar = tqdm(
            total=len(problems) * n,
            initial=len(kept),
            desc=f"{loaded.spec.name.rsplit('/', 1)[-1]} {config.model.rsplit('/', 1)[-1]}",
            unit="sample",
            disable=not options.progress,
            file=sys.stderr,
        )
        try:
            if (
                requests
            ):  # the engine (a model load: minutes) is built inside, so a signal there is handled too
                engine_opts = engine_options_for(
                    options.engine, options.model, options.engine_options, loaded.spec
                )
                if engines is None:
                    engine = build_engine(options.engine, engine_opts, options.ray_address, options.replicas)
                else:
                    engine = engines.get(options.engine, engine_opts, options.ray_address, options.replicas)
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
                        verdict = grade(
                            completion.text,
                            problem.gold,
                            timeout=options.grade_timeout,
                            finished=completion.finish_reason == "stop",
                            policy=config.grade_policy,
                        )
                        prompt = messages[problem.id][-1].content
                        record = _record(problem, prompt, completion, verdict, tag)
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
        except (
            KeyboardInterrupt
        ) as err:  # Ctrl-C, SIGTERM, SIGHUP: keep what was graded, summarise it, say where
            _write_summary(run_dir, kept, config, duplicates)
            signame = err.signame if isinstance(err, SignalInterrupt) else ""
            raise Interrupted(run_dir, len(kept), signame) from err
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
