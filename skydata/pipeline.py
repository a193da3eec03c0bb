"""``skydata curate``: the declared list ``STAGES`` (source -> dedup -> decontam -> difficulty -> select ->
teacher -> reject -> [rewrite] -> export), each calling its stage module's ``run``, in one run directory.

The run directory holds one checkpoint per stage (``NN_stage.jsonl`` plus ``NN_stage.dropped.jsonl``, named in
``STAGES`` only), the judge cache and teacher/rewrite logs (append-only, resumable), the exports and
``manifest.json`` (funnel, settings, prompts, versions). Each stage has a *key* (a hash of its settings and of
the stages before it) and a status: ``done``, or ``partial`` when more of its requests failed than
``max_error_rate`` allows. Re-running skips ``done`` stages with the same key; a ``partial`` stage or one whose
settings changed runs again (its logs resume: only missing or failed requests are asked), and so does
everything after it; the checkpoints and exports of later stages are removed first, so none is left stale. A
``partial`` stage stops the run with one line naming its failed requests and the first error. No API key is
ever written: engines read keys from the environment variables named for them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skydata import dedup as dedup_stage
from skydata import difficulty, reject, rewrite, select, sources, teacher
from skydata.backend import EngineConfig, Grader, build_engine, build_grader
from skydata.calls import LazyEngine
from skydata.config import CurateConfig, JudgeStage, RewriteStage, TeacherStage
from skydata.decontam import ContaminationIndex, decontaminate_rows, load_benchmarks
from skydata.export import prompts_for, refuse_empty, write
from skydata.rewrite import REWRITE_VERSION
from skydata.rundir import RunDir, settings_hash
from skydata.samplelog import grades_path
from skydata.select import needs_label
from skydata.stage import StageFailed, StageResult, count_lines, dropped_path, run_items
from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.jsonl import read_jsonl

# ---------------------------------------------------------------- the stages


@dataclass
class Context:
    """What a stage body sees: the run, its config and grader, and the checkpoints written so far."""

    run: RunDir
    config: CurateConfig
    grader: Grader
    progress: bool
    log: Callable[[str], object]
    outputs: dict[str, Path] = field(default_factory=dict)  # stage -> its rows checkpoint
    prev: Path | None = None  # the latest rows checkpoint

    def path(self, name: str) -> Path:
        return self.run.path / name

    def source(self) -> Path:
        if self.prev is None:  # pragma: no cover - the source stage always runs first
            raise SkyevalError("no earlier stage wrote a checkpoint")
        return self.prev


@dataclass(frozen=True)
class Body:
    """A stage body's result: its funnel line, the checkpoint/export files it wrote and its logs."""

    result: StageResult
    outputs: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    """One step of ``curate``: its name, its rows checkpoint (None: none), when it runs, the settings in its
    key, and its body."""

    name: str
    output: str | None
    enabled: Callable[[CurateConfig], bool]
    settings: Callable[[CurateConfig], Any]
    body: Callable[[Context, Stage], Body]


def _engine(config: EngineConfig) -> LazyEngine:
    return LazyEngine(lambda: build_engine(config))


def _rows_out(ctx: Context, stage: Stage) -> Path:
    assert stage.output is not None
    return ctx.path(stage.output)


def _written(out: Path) -> list[str]:
    return [out.name, dropped_path(out).name]


def _source(ctx: Context, stage: Stage) -> Body:
    out = _rows_out(ctx, stage)
    res = sources.run(
        ctx.config.sources, out, skip_malformed=ctx.config.skip_malformed, progress=ctx.progress
    )
    return Body(res, _written(out))


def _dedup(ctx: Context, stage: Stage) -> Body:
    out = _rows_out(ctx, stage)
    assert ctx.config.dedup is not None
    return Body(dedup_stage.run(ctx.source(), out, ctx.config.dedup, progress=ctx.progress), _written(out))


def _decontam(ctx: Context, stage: Stage) -> Body:
    config, out = ctx.config, _rows_out(ctx, stage)
    dc = config.decontam
    assert dc is not None
    bench = load_benchmarks(config.decontam_tasks, data_dir=config.data_dir)
    index = ContaminationIndex(bench.problems, dc)
    res = run_items(
        "decontam", ctx.source(), out, lambda rows: decontaminate_rows(rows, index), progress=ctx.progress
    )
    tasks = {"checked": list(bench.tasks), "skipped_no_file": list(bench.skipped)}
    ctx.run.manifest["decontam_tasks"] = tasks
    return Body(dataclasses.replace(res, extra=tasks), _written(out))


def _difficulty(ctx: Context, stage: Stage) -> Body:
    config, out = ctx.config, _rows_out(ctx, stage)
    judge = config.judge
    assert judge is not None
    cache = Path(judge.cache) if judge.cache else ctx.path("judge_cache.jsonl")
    with _engine(judge.engine) as engine:
        res = difficulty.run(
            ctx.source(),
            out,
            engine,
            judge.config,
            cache,
            wanted=lambda it: needs_label(config.rules, it.source),
            rejudge_unparsable=judge.rejudge_unparsable,
            progress=ctx.progress,
        )
    ctx.log(difficulty.status_line(res))
    return Body(res, _written(out), [cache.name] if cache.parent == ctx.run.path else [])


def _select(ctx: Context, stage: Stage) -> Body:
    out = _rows_out(ctx, stage)
    return Body(select.run(ctx.source(), out, ctx.config.rules, progress=ctx.progress), _written(out))


def teacher_log(run: Path, ts: TeacherStage) -> Path:
    """The teacher log of ``ts``, named by what changes a sample: the teacher, the engine and the options that
    change what it generates (not its URL, key variable or concurrency), and the sampling."""
    from skyeval.engines import generation_options

    options = generation_options(ts.engine.engine, ts.engine.options)
    return run / f"teacher-{settings_hash((ts.teacher, ts.engine.engine, options, ts.sampling))}.jsonl"


def _teacher(ctx: Context, stage: Stage) -> Body:
    config = ctx.config
    ts = config.teacher
    assert ts is not None
    log = teacher_log(ctx.run.path, ts)
    with _engine(ts.engine) as engine:
        res = teacher.run(
            ctx.source(),
            log,
            engine,
            ts.teacher,
            ts.sampling,
            ctx.grader,
            acceptance=config.reject.acceptance,
            target=config.reject.target,
            chunk=ts.chunk,
            progress=ctx.progress,
        )
    return Body(res, logs=[log.name, grades_path(log).name])


def _reject(ctx: Context, stage: Stage) -> Body:
    ts, out = ctx.config.teacher, _rows_out(ctx, stage)
    assert ts is not None
    res = reject.run(
        ctx.source(),
        teacher_log(ctx.run.path, ts),
        out,
        ctx.config.reject,
        teacher=ts.teacher.name,
        teacher_model=ts.teacher.model,
        progress=ctx.progress,
    )
    return Body(res, _written(out))


def _rewrite(ctx: Context, stage: Stage) -> Body:
    rw, out = ctx.config.rewrite, _rows_out(ctx, stage)
    assert rw is not None
    log = ctx.path(f"rewrite-{settings_hash(rw)}.jsonl")
    with _engine(rw.engine) as engine:
        res = rewrite.run(ctx.source(), out, engine, rw.sampling, ctx.grader, log, progress=ctx.progress)
    return Body(res, _written(out), [log.name])


def _why_empty(ctx: Context) -> str:
    """Where the rows went: every stage with drops (and the teacher's rejected samples)."""
    parts = []
    for s in ctx.run.manifest["funnel"]:
        if s["dropped"]:
            drops = ", ".join(f"{k}={v}" for k, v in sorted(s["dropped"].items()))
            parts.append(f"{s['stage']} {s['rows_in']}->{s['rows_out']} ({drops})")
    rejected = ctx.run.manifest["stages"].get("reject", {}).get("extra", {}).get("samples_rejected")
    if rejected:
        parts.append("samples rejected: " + ", ".join(f"{k}={v}" for k, v in sorted(rejected.items())))
    return "; ".join(parts) or "no rows came in"


def _export(ctx: Context, stage: Stage) -> Body:
    config = ctx.config
    plans: list[tuple[str, Path, str, str | None]] = []  # file, rows, format, system prompt
    if config.teacher is not None:
        plans += [(f"sft_{f}.jsonl", ctx.source(), f, config.system_prompt) for f in config.sft_formats]
    plans += [(f"rl_{f}.jsonl", ctx.outputs["select"], f, config.rl_system_prompt) for f in config.rl_formats]
    empty = [name for name, src, _, _ in plans if count_lines(src) == 0]
    if empty and not config.allow_empty:  # refuse before writing anything
        raise refuse_empty(", ".join(empty), _why_empty(ctx))
    files: dict[str, Any] = {}
    for name, src, fmt, prompt in plans:
        rows = write(read_jsonl(src), ctx.path(name), fmt, system_prompt=prompt, allow_empty=True)
        files[name] = {"format": fmt, "rows": rows, **prompts_for(fmt, prompt).to_json()}
    n_in = count_lines(ctx.source())
    return Body(StageResult("export", n_in, n_in, {}, {"files": files}), [name for name, *_ in plans])


def _always(config: CurateConfig) -> bool:
    return True


STAGES: tuple[Stage, ...] = (
    Stage("source", "00_source.jsonl", _always, lambda c: (c.sources, c.skip_malformed), _source),
    Stage("dedup", "01_dedup.jsonl", lambda c: c.dedup is not None, lambda c: c.dedup, _dedup),
    Stage(
        "decontam",
        "02_decontam.jsonl",
        lambda c: c.decontam is not None,
        lambda c: (c.decontam, c.decontam_tasks, c.data_dir),
        _decontam,
    ),
    Stage(
        "difficulty",
        "03_difficulty.jsonl",
        lambda c: c.judge is not None,
        lambda c: (c.judge and (c.judge.engine, c.judge.config, c.judge.rejudge_unparsable), c.rules),
        _difficulty,
    ),
    Stage("select", "04_select.jsonl", _always, lambda c: c.rules, _select),
    Stage(
        "teacher",
        None,
        lambda c: c.teacher is not None,
        lambda c: (c.teacher, c.reject.acceptance, c.reject.target),
        _teacher,
    ),
    Stage("reject", "06_reject.jsonl", lambda c: c.teacher is not None, lambda c: c.reject, _reject),
    Stage(
        "rewrite",
        "07_rewrite.jsonl",
        lambda c: c.teacher is not None and c.rewrite is not None,
        lambda c: (c.rewrite, REWRITE_VERSION),
        _rewrite,
    ),
    Stage(
        "export",
        None,
        _always,
        lambda c: (c.sft_formats, c.rl_formats, c.system_prompt, c.rl_system_prompt, c.allow_empty),
        _export,
    ),
)

#: Stages whose requests can fail; ``max_error_rate`` is part of their key.
_ASKING = ("difficulty", "teacher", "rewrite")


def curate(
    run_dir: str | Path,
    config: CurateConfig,
    *,
    progress: bool = True,
    log: Callable[[str], object] = lambda s: None,
    check: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the pipeline in ``run_dir``; returns the manifest.

    ``check`` runs ``preflight.check_curate`` first (pass False when the caller just did). A ``partial`` stage
    raises ``StageFailed``, an empty export ``EmptyExport`` (both one-line ``SkyevalError``s), after the
    manifest records what was done."""
    if check:
        from skydata.preflight import check_curate

        for note in check_curate(config):
            log(note)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with results.lock(run_dir, holder="skydata curate"):
        return _curate(run_dir, config, progress=progress, log=log)


def _curate(
    run_dir: str | Path, config: CurateConfig, *, progress: bool, log: Callable[[str], object]
) -> dict[str, Any]:
    run = RunDir(run_dir, config, [s.name for s in STAGES])
    run.clean_tmp()
    grader = build_grader(
        timeout=config.grade_timeout, ray_address=config.ray_address, replicas=config.replicas
    )
    ctx = Context(run, config, grader, progress, log)
    ran: list[str] = []
    for stage in STAGES:
        if not stage.enabled(config):
            continue
        settings = stage.settings(config)
        key = run.key((settings, config.max_error_rate) if stage.name in _ASKING else settings)
        ran.append(stage.name)
        if run.done(stage.name, key):
            log(f"{stage.name}: done (checkpoint kept)")
        else:
            run.forget_from(stage.name)
            start = time.monotonic()
            body = stage.body(ctx, stage)
            result = body.result
            status = "partial" if result.over(config.max_error_rate) else "done"
            run.record(result, key, status, time.monotonic() - start, body.outputs, body.logs)
            log(result.summary())
            if result.errors:
                log(result.error_line())
            if status == "partial":
                raise StageFailed(result, config.max_error_rate)
        if stage.output is not None:
            ctx.prev = ctx.outputs[stage.name] = run.path / stage.output
    run.prune(ran)
    return run.manifest


__all__ = ["STAGES", "CurateConfig", "JudgeStage", "RewriteStage", "TeacherStage", "curate"]
