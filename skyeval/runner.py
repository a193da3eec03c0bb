"""The runner: the one place that composes task -> prompts -> engine -> grader -> run directory -> summary.

``run`` is resumable: it reads what the run directory already holds, asks the engine only for the missing
(problem, sample index) pairs, and appends each graded sample as it arrives. Before anything is loaded or
written, ``prepare_all`` checks every run of a command at once (``skyeval.preflight``): a bad last ``--task``
fails before the first one generates. Samples graded by another grader version or policy are re-graded (never
regenerated) when the directory is run or scored again. ``score`` re-grades a run directory without generating.

Over 400 lines while engine building (``engine_options_for``, ``build_engine``, ``EngineCache``) and the summary
(``summarize``, ``score``) still live here; issues #10 and #11 give them their own modules.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from skyeval import metrics, results
from skyeval.errors import SkyevalError
from skyeval.grading.version import GRADER_VERSION
from skyeval.hub import HubClient
from skyeval.jsonl import write_json
from skyeval.preflight import Preflight
from skyeval.prompts import build_messages, resolve_prompt
from skyeval.regrade import check_grading, graded_by, grader_tag, policy_kwargs, regrade, regrade_stale
from skyeval.signals import SignalInterrupt
from skyeval.tasks import FILE_PREFIX, FieldMap, LoadedTask, TaskSpec, get_task
from skyeval.types import (
    Completion,
    Engine,
    GenerationRequest,
    Grade,
    Problem,
    RunConfig,
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
    summary: Mapping[str, Any]


def engine_options_for(engine: str, model: str, options: Mapping[str, Any], task: TaskSpec) -> dict[str, Any]:
    """The engine's constructor options: ``model`` when it takes one; replay defaults to the task's file."""
    from skyeval.engines import check_options, engine_parameters

    opts = dict(options)
    params = engine_parameters(engine)
    if "model" in params:
        opts.setdefault("model", model)
    if engine == "replay" and task.name.startswith(FILE_PREFIX):
        opts.setdefault("path", task.name[len(FILE_PREFIX) :])
        if task.local_fields.id:
            opts.setdefault("id_field", task.local_fields.id)
    check_options(engine, opts)
    return opts


def build_engine(name: str, options: Mapping[str, Any], ray_address: str | None, replicas: int) -> Engine:
    """The engine itself, or a Ray-replicated one when ``ray_address`` is given (Ray imported only then)."""
    if ray_address is None:
        from skyeval.engines import get_engine

        return get_engine(name, **options)
    from skyeval.scaleout import RayEngine

    engine: Engine = RayEngine(
        engine=name, engine_options=dict(options), replicas=replicas, address=ray_address
    )
    return engine


class EngineCache:
    """Engines built once per command and reused by its tasks, so a model loads once rather than per task."""

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}

    def get(self, name: str, options: Mapping[str, Any], ray_address: str | None, replicas: int) -> Engine:
        key = json.dumps([name, options, ray_address, replicas], sort_keys=True, default=str)
        if key not in self._engines:
            self._engines[key] = build_engine(name, options, ray_address, replicas)
        return self._engines[key]

    def close(self) -> None:
        """Release engines that hold resources (Ray actors, GPUs)."""
        for engine in self._engines.values():
            close = getattr(engine, "close", None)
            if close is not None:
                close()
        self._engines.clear()


def _sampling(options: RunOptions, spec: TaskSpec) -> SamplingParams:
    """The run's sampling: the options given, the task's defaults for the rest; out-of-range values refused."""
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
    return sampling


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
        prompt_name, system = resolve_prompt(options.system_prompt, options.model)
        selected = task.problems[: options.limit] if options.limit is not None else task.problems
        config = RunConfig(
            model=options.model,
            task=task.spec.name,
            engine=options.engine,
            sampling=_sampling(options, task.spec),
            system_prompt=system,
            prompt_template=options.prompt_template or task.spec.prompt_template,
            task_fingerprint=task.fingerprint,
            limit=options.limit,
            engine_options=public_options(options.engine, options.engine_options),
            versions=results.versions(),
            problems=len(selected),
            problem_ids=tuple(p.id for p in selected) if options.limit is not None else (),
            model_source=source,
            grader_version=GRADER_VERSION,
            grade_policy=options.grade_policy,
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
        write_json(run_dir / results.CONFIG, results.config_to_json(config))
        done = results.dedupe(
            regrade_stale(
                run_dir,
                timeout=options.grade_timeout,
                policy=config.grade_policy,
                progress=options.progress,
                log=log,
            )
        )
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
                            **policy_kwargs(config.grade_policy),
                        )
                        prompt = messages[problem.id][-1].content
                        record = _record(problem, prompt, completion, verdict, tag)
                        writer.write(record)
                        kept.append(record)
                        correct += record.correct
                        bar.update(1)
                        bar.set_postfix(acc=f"{correct / len(kept):.3f}", refresh=False)
        except SkyevalError as err:
            summary = summarize(kept, problems, config, loaded.spec.breakdown)
            write_json(run_dir / results.SUMMARY, summary)
            raise SkyevalError(
                f"{err} (partial results kept in {run_dir}; re-run the same command to resume)"
            ) from err
        except (
            KeyboardInterrupt
        ) as err:  # Ctrl-C, SIGTERM, SIGHUP: keep what was graded, summarise it, say where
            summary = summarize(kept, problems, config, loaded.spec.breakdown)
            write_json(run_dir / results.SUMMARY, summary)
            signame = err.signame if isinstance(err, SignalInterrupt) else ""
            raise Interrupted(run_dir, len(kept), signame) from err
        finally:
            bar.close()
        summary = summarize(kept, problems, config, loaded.spec.breakdown)
        write_json(run_dir / results.SUMMARY, summary)
    if failures:
        raise SkyevalError(
            f"{len(failures)} sample(s) failed (first: {failures[0]}); results in {run_dir}, re-run to retry them"
        )
    if wanted:
        raise SkyevalError(
            f"the engine returned no completion for {len(wanted)} sample(s); re-run to retry them"
        )
    return RunResult(run_dir, summary)


def _same_answer(a: str, b: str) -> bool:
    from skyeval import is_equivalent

    return bool(is_equivalent(a, b))


def summarize(
    records: Iterable[SampleRecord],
    problems: Sequence[Problem],
    config: RunConfig,
    breakdown: Sequence[str] = (),
    same: Callable[[str, str], bool] | None = _same_answer,
    total_problems: int | None = None,
) -> dict[str, Any]:
    """Per-task metrics from graded samples (the first ``n`` sample indices of each listed problem).

    ``total_problems``: the task's problem count when ``problems`` lists only those with samples (``score``).
    """
    n = config.sampling.n
    wanted = {p.id for p in problems}
    per: dict[str, list[SampleRecord]] = {p.id: [] for p in problems}
    for rec in records:
        if rec.problem_id in wanted and rec.sample_index < n:
            per[rec.problem_id].append(rec)
    for recs in per.values():
        recs.sort(key=lambda r: r.sample_index)
    scored = sorted((p for p in problems if per[p.id]), key=lambda p: p.id)  # independent of input order
    samples = [r for p in scored for r in per[p.id]]
    summary: dict[str, Any] = {
        "task": config.task,
        "model": config.model,
        "engine": config.engine,
        "n": n,
        "task_fingerprint": config.task_fingerprint,
        "problems": max(len(problems), total_problems or 0),
        "problems_scored": len(scored),
        "problems_complete": sum(len(per[p.id]) == n for p in problems),
        "samples": len(samples),
        "complete": all(len(per[p.id]) == n for p in problems) and len(problems) >= (total_problems or 0),
        "schema_version": config.schema_version,
    }
    if not scored:
        return summary
    accs = [metrics.mean_at_n([r.correct for r in per[p.id]]) for p in scored]
    lo, hi = metrics.bootstrap_ci(accs)
    curve = metrics.pass_at_k_curve([(len(per[p.id]), sum(r.correct for r in per[p.id])) for p in scored])
    maj = [
        metrics.maj_at_k([r.extracted for r in per[p.id]], [r.correct for r in per[p.id]], same=same)
        for p in scored
    ]
    truncated = [r for r in samples if r.finish_reason == "length"]
    tokens = [r.completion_tokens for r in samples if r.completion_tokens is not None]
    summary.update(
        {
            "pass@1": sum(accs) / len(accs),
            "ci95": [lo, hi],
            "pass@k": {str(k): v for k, v in curve.items()},
            f"maj@{n}": sum(maj) / len(maj),
            "truncated": len(truncated),
            "truncation_rate": len(truncated) / len(samples),
            "truncated_correct": sum(r.correct for r in truncated),
            "response_tokens": {
                "mean": statistics.fmean(tokens) if tokens else None,
                "median": statistics.median(tokens) if tokens else None,
                "counted": len(tokens),
            },
            "reasons": dict(Counter(r.reason for r in samples)),
        }
    )
    by: dict[str, dict[str, dict[str, float]]] = {}
    for key in breakdown:
        groups: dict[str, list[float]] = {}
        for p, acc in zip(scored, accs, strict=True):
            if key in p.meta:
                groups.setdefault(str(p.meta[key]), []).append(acc)
        if groups:
            by[key] = {g: {"problems": len(v), "pass@1": sum(v) / len(v)} for g, v in sorted(groups.items())}
    if by:
        summary["by"] = by
    return summary


def _problems_from_records(records: Sequence[SampleRecord]) -> list[Problem]:
    seen: dict[str, Problem] = {}
    for rec in records:
        seen.setdefault(rec.problem_id, Problem(rec.problem_id, rec.prompt, rec.gold, rec.meta))
    return list(seen.values())


def score(
    run_dir: str | Path,
    *,
    timeout: float = 5.0,
    ray_address: str | None = None,
    replicas: int = 1,
    progress: bool = True,
    policy: str = "default",
    log: Callable[[str], None] = _note,
) -> dict[str, Any]:
    """Re-grade every sample of a run directory (e.g. after a grader change) and rewrite its summary.

    The grader version and ``policy`` used are recorded in ``config.json`` and in every sample; samples graded
    by another one are named in one ``log`` line.
    """
    path = Path(run_dir)
    check_grading(timeout, policy, ray_address, replicas)
    config = results.read_config(path)
    if config.limit is not None and not config.problem_ids:
        raise SkyevalError(
            f"{path} was run with --limit {config.limit} by an older skyeval that did not record which "
            "problems that covers; re-run the same `skyeval run` command first (nothing is regenerated)"
        )
    with results.lock(path):
        records = list(results.dedupe(results.read_samples(path)).values())
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
        config = replace(config, grader_version=GRADER_VERSION, grade_policy=policy)
        write_json(path / results.CONFIG, results.config_to_json(config))
        summary = summarize(
            regraded,
            _scope(regraded, config),
            config,
            _breakdown_of(config.task),
            total_problems=config.problems if config.problems is not None else _previous_problem_count(path),
        )
        write_json(path / results.SUMMARY, summary)
    if stale:
        log(
            f"note: {len(stale)} sample(s) in {path} had been graded by {graded_by(stale)}; now by grader {tag}"
        )
    return summary


def _scope(records: Sequence[SampleRecord], config: RunConfig) -> list[Problem]:
    """The problems ``run`` summarises for this directory: all of them, or the first ``limit`` it recorded.

    A ``--limit`` run keeps rows of problems outside its limit (from an earlier, larger run); like ``run``,
    ``score`` leaves them out of the summary.
    """
    problems = _problems_from_records(records)
    if config.limit is None:
        return problems
    wanted = set(config.problem_ids)
    return [p for p in problems if p.id in wanted]


def _previous_problem_count(run_dir: Path) -> int | None:
    """The problem count of the last ``summary.json``, for configs written before ``RunConfig.problems``."""
    if not (run_dir / results.SUMMARY).is_file():
        return None
    count = results.read_summary(run_dir).get("problems")
    return count if isinstance(count, int) else None


def _breakdown_of(task: str) -> tuple[str, ...]:
    if task.startswith(FILE_PREFIX):
        return ()
    try:
        return get_task(task).breakdown
    except SkyevalError:
        return ()
