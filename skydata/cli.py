"""The ``skydata`` command: one thin subcommand per stage over that stage's ``run``, and ``curate`` chaining
them in a run directory (options from flags or ``--config FILE.toml``). Everything a command needs is checked
before it starts (``skydata.preflight``); a stage whose requests failed beyond ``--max-error-rate`` prints one
line with the counts and the first error and exits non-zero.

Over 400 lines because it declares the options of twelve commands (``curate`` alone has 45, each a typed
parameter); every command body is a few lines over a library call."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import click

from skydata.backend import EngineConfig
from skydata.calls import LazyEngine
from skydata.cli_options import (
    MAX_ERROR_RATE,
    AcceptanceArgs,
    EngineArgs,
    JudgeArgs,
    RayArgs,
    acceptance_options,
    config_file_option,
    engine_options,
    judge_options,
    ray_options,
)
from skydata.decontam import ContaminationIndex, DecontamConfig
from skydata.export import FORMATS
from skydata.stage import StageFailed, StageResult
from skyeval.clickutil import ErrorGroup
from skyeval.errors import SkyevalError
from skyeval.types import SamplingParams


@click.group(cls=ErrorGroup)
@click.version_option(package_name="skyeval")
def main() -> None:
    """Curate math training data: sources, difficulty labels, selection, dedup, decontamination, teacher
    generation, rejection sampling, rewrite, export, mixtures and RL prompt filtering."""


def _report(result: StageResult, max_error_rate: float = 0.0) -> None:
    """The funnel line and any failed requests on stderr; too many failures are an error (exit 2)."""
    click.echo(result.summary(), err=True)
    if result.errors:
        click.echo(result.error_line(), err=True)
    if result.over(max_error_rate):
        raise StageFailed(result, max_error_rate)


def _engine(
    args: EngineArgs, ray: RayArgs, what: str, *, model: str | None = None, serving: str = ""
) -> tuple[EngineConfig, LazyEngine]:
    """The checked engine config of a command (every problem in one line) and a lazily built engine."""
    from skydata.backend import build_engine
    from skydata.preflight import Problems, check_engine

    problems = Problems()
    config = problems.attempt(partial(args.config, ray, model=model))
    if config is not None:
        check_engine(config, args.flag, problems, role=what, serving=serving)
    problems.raise_if_any(f"skydata {what}")
    assert config is not None
    return config, LazyEngine(partial(build_engine, config))


INPUT = click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
OUTPUT = click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="output JSONL")


# ---------------------------------------------------------------- stages


@main.command("source")
@click.argument("kind")
@click.argument("location", required=False)
@OUTPUT
@click.option("--field", "fields", multiple=True, help="NAME=COLUMN (problem, gold, solution, source, id)")
@click.option(
    "--subset", "subsets", multiple=True, help="keep only these source values (e.g. numina_olympiads)"
)
@click.option("--split", default="train", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="read at most this many records")
@click.option(
    "--skip-malformed", is_flag=True, help="record malformed lines as drops (file:line) instead of stopping"
)
def source_cmd(
    kind: str,
    location: str | None,
    out: str,
    fields: tuple[str, ...],
    subsets: tuple[str, ...],
    split: str,
    limit: int | None,
    skip_malformed: bool,
) -> None:
    """Stream a source (numina, eurus, still3, local) into skydata items; LOCATION is a file or Hub id."""
    from skydata import sources
    from skydata.preflight import check_source

    spec = sources.make_spec(
        kind, location, split=split, fields=sources.parse_fields(fields), subsets=subsets, limit=limit
    )
    check_source(spec)
    _report(sources.run([spec], out, skip_malformed=skip_malformed))


@main.command("dedup")
@INPUT
@OUTPUT
@click.option("--near/--exact-only", default=True, show_default=True, help="also remove near-duplicates")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.75,
    show_default=True,
    help="near-duplicate Jaccard threshold",
)
def dedup_cmd(input_path: str, out: str, near: bool, threshold: float) -> None:
    """Remove exact and near-duplicate problems (first one kept; drops name the kept id)."""
    from skydata import dedup

    _report(dedup.run(input_path, out, dedup.DedupConfig(near=near, threshold=threshold)))


def decontam_options(f: Callable[..., Any]) -> Any:
    """``--task``, ``--data-dir``, ``--max-edit-ratio``: the benchmarks to check against, how close a copy is."""
    for opt in reversed(
        [
            click.option(
                "--task",
                "tasks",
                multiple=True,
                help="benchmark to check against (default: every skyeval task)",
            ),
            click.option(
                "--data-dir", default=None, type=click.Path(file_okay=False), help="folder with <task>.jsonl"
            ),
            click.option(
                "--max-edit-ratio",
                type=float,
                default=None,
                help=f"edits a copy may have per word (default {DecontamConfig().max_edit_ratio})",
            ),
        ]
    ):
        f = opt(f)
    return f


def _contamination_index(
    tasks: tuple[str, ...], data_dir: str | None, max_edit_ratio: float | None
) -> ContaminationIndex:
    """Load the benchmarks (saying which, and which default tasks had no file) and index them."""
    from skydata.decontam import load_benchmarks

    cfg = DecontamConfig() if max_edit_ratio is None else DecontamConfig(max_edit_ratio=max_edit_ratio)
    bench = load_benchmarks(tasks, data_dir=data_dir)
    click.echo(
        f"decontam: checking against {', '.join(bench.tasks)} ({len(bench.problems)} problems)", err=True
    )
    if bench.skipped:
        click.echo(f"decontam: no file in --data-dir for {', '.join(bench.skipped)}: not checked", err=True)
    return ContaminationIndex(bench.problems, cfg)


@main.command("decontam")
@INPUT
@OUTPUT
@decontam_options
def decontam_cmd(
    input_path: str, out: str, tasks: tuple[str, ...], data_dir: str | None, max_edit_ratio: float | None
) -> None:
    """Remove problems holding a copy of a benchmark problem (verbatim, embedded, or a few words changed);
    drops name the benchmark problem, the edits and the copied text."""
    from skydata.decontam import decontaminate_rows
    from skydata.stage import run_items

    index = _contamination_index(tasks, data_dir, max_edit_ratio)
    _report(run_items("decontam", input_path, out, lambda rows: decontaminate_rows(rows, index)))


@main.command("label")
@INPUT
@OUTPUT
@engine_options()
@ray_options
@judge_options()
@click.option("--preset", default=None, help="only label sources whose selection rule needs a level")
@click.option("--rule", multiple=True, help="selection rule, with --preset (e.g. math>3)")
@MAX_ERROR_RATE
def label_cmd(
    input_path: str,
    out: str,
    engine: EngineArgs,
    ray: RayArgs,
    judge: JudgeArgs,
    preset: str | None,
    rule: tuple[str, ...],
    max_error_rate: float,
) -> None:
    """Label difficulty (AoPS 1-10) with an LLM judge; unparsable answers are asked again, then kept as
    unparsable; failed requests are counted and asked again on the next run."""
    from skydata import difficulty
    from skydata.select import needs_label, resolve_rules

    rules = resolve_rules(preset, rule) if (preset or rule) else None
    config, gen = _engine(engine, ray, "label")
    with gen:
        res = difficulty.run(
            input_path,
            out,
            gen,
            judge.config(str(config.options["model"])),
            judge.cache or Path(out).with_suffix(".cache.jsonl"),
            wanted=(lambda it: needs_label(rules, it.source)) if rules else (lambda it: True),
            rejudge_unparsable=judge.rejudge_unparsable,
        )
    click.echo(difficulty.status_line(res), err=True)
    _report(res, max_error_rate)


@main.command("select")
@INPUT
@OUTPUT
@click.option("--preset", default=None, help="rule preset: sky-t1 (math>3, olympiads>8, amc_aime:all) or all")
@click.option("--rule", multiple=True, help="SOURCE>LEVEL or SOURCE:all; overrides the preset per source")
def select_cmd(input_path: str, out: str, preset: str | None, rule: tuple[str, ...]) -> None:
    """Keep problems by source and judged difficulty."""
    from skydata import select

    _report(select.run(input_path, out, select.resolve_rules(preset, rule)))


@main.command("generate")
@INPUT
@click.option(
    "--log", "log_path", required=True, type=click.Path(dir_okay=False), help="sample log (resumable)"
)
@click.option(
    "--teacher", default=None, help="alias (qwq, r1-distill-qwen-32b, ...) or a model id (org/name, path)"
)
@click.option(
    "--system-prompt",
    default=None,
    help="system prompt name (sky-t1, qwq, qwen-cot, none); default: the teacher's",
)
@engine_options(default_engine="openai")
@ray_options
@click.option(
    "--n", "n", type=click.IntRange(min=1), default=1, show_default=True, help="samples per problem"
)
@click.option(
    "--temperature", type=click.FloatRange(min=0), default=None, help="default: the teacher's recommendation"
)
@click.option("--max-tokens", type=click.IntRange(min=1), default=16384, show_default=True)
@click.option("--grade-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True)
@acceptance_options
@MAX_ERROR_RATE
def generate_cmd(
    input_path: str,
    log_path: str,
    teacher: str | None,
    system_prompt: str | None,
    engine: EngineArgs,
    ray: RayArgs,
    n: int,
    temperature: float | None,
    max_tokens: int,
    grade_timeout: float,
    accept: AcceptanceArgs,
    max_error_rate: float,
) -> None:
    """Sample teacher responses (n per problem), grade them against the gold, log them (resumable).
    ``--model`` is the model id the engine is asked for (default: the alias's)."""
    from skydata import teacher as teach
    from skydata.backend import build_grader

    t = teach.resolve_teacher(teacher, model=engine.model, system_prompt=system_prompt)
    _, gen = _engine(engine, ray, f"generate (teacher {t.name})", model=t.model, serving=t.model)
    sampling = SamplingParams(
        n=n,
        temperature=t.temperature if temperature is None else temperature,
        top_p=t.top_p,
        max_tokens=max_tokens,
    )
    grader = build_grader(timeout=grade_timeout, ray_address=ray.address, replicas=ray.replicas)
    with gen:
        res = teach.run(
            input_path, log_path, gen, t, sampling, grader, acceptance=accept.acceptance, target=accept.target
        )
    click.echo("generate: " + ", ".join(f"{k}={v}" for k, v in res.extra.items()), err=True)
    _report(res, max_error_rate)


@main.command("reject")
@INPUT
@click.option(
    "--log", "log_path", required=True, type=click.Path(dir_okay=False), help="sample log of generate"
)
@OUTPUT
@click.option("--policy", type=click.Choice(["first", "shortest", "all"]), default="first", show_default=True)
@click.option(
    "--per-problem", type=click.IntRange(min=1), default=1, show_default=True, help="samples kept per problem"
)
@click.option("--teacher-name", default="teacher", help="recorded in each row's provenance")
@acceptance_options
def reject_cmd(
    input_path: str,
    log_path: str,
    out: str,
    policy: str,
    per_problem: int,
    teacher_name: str,
    accept: AcceptanceArgs,
) -> None:
    """Keep correct, finished, length-bounded samples: 1 or k per problem, up to a target size."""
    from skydata import reject

    cfg = reject.RejectConfig(accept.acceptance, policy, per_problem, accept.target)
    res = reject.run(input_path, log_path, out, cfg, teacher=teacher_name)
    _report(res)
    rejected = res.extra.get("samples_rejected") or {}
    if rejected:
        click.echo(
            "rejected samples: " + ", ".join(f"{k}={v}" for k, v in sorted(rejected.items())), err=True
        )


@main.command("rewrite")
@INPUT
@OUTPUT
@engine_options()
@ray_options
@click.option(
    "--log", "log_path", default=None, type=click.Path(dir_okay=False), help="default: OUT.log.jsonl"
)
@click.option("--max-tokens", type=click.IntRange(min=1), default=16384, show_default=True)
@click.option("--no-format-check", is_flag=True, help="keep rewrites without the thought/solution markers")
@MAX_ERROR_RATE
def rewrite_cmd(
    input_path: str,
    out: str,
    engine: EngineArgs,
    ray: RayArgs,
    log_path: str | None,
    max_tokens: int,
    no_format_check: bool,
    max_error_rate: float,
) -> None:
    """Reformat kept responses into the Sky-T1 thought/solution format; drop those failing re-grading."""
    from skydata import rewrite
    from skydata.backend import build_grader

    _, gen = _engine(engine, ray, "rewrite")
    grader = build_grader(ray_address=ray.address, replicas=ray.replicas)
    log = log_path or str(Path(out).with_suffix(".log.jsonl"))
    sampling = SamplingParams(temperature=0.0, max_tokens=max_tokens)
    with gen:
        res = rewrite.run(input_path, out, gen, sampling, grader, log, require_format=not no_format_check)
    _report(res, max_error_rate)


@main.command("export")
@INPUT
@OUTPUT
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(list(FORMATS)),
    help="SFT: "
    + ", ".join(n for n, f in FORMATS.items() if f.kind == "sft")
    + "; RL prompts: "
    + ", ".join(n for n, f in FORMATS.items() if f.kind == "rl"),
)
@click.option(
    "--system-prompt",
    default=None,
    help="system prompt name (default: sky-t1 for SFT, none for RL; 'none' for none)",
)
@click.option("--allow-empty", is_flag=True, help="write the file even when it has no rows (else an error)")
@click.option(
    "--no-decontam", is_flag=True, help="RL formats: do not check the prompts against the benchmarks"
)
@decontam_options
def export_cmd(
    input_path: str,
    out: str,
    fmt: str,
    system_prompt: str | None,
    allow_empty: bool,
    no_decontam: bool,
    tasks: tuple[str, ...],
    data_dir: str | None,
    max_edit_ratio: float | None,
) -> None:
    """Convert curated SFT rows or problem rows to a trainer's format. RL prompts are decontaminated first
    (as ``skydata decontam``; ``--no-decontam`` to skip): drops are counted and listed in <out>.dropped.jsonl.
    SFT rows are not re-checked (they were when curated)."""
    from collections import Counter

    from skydata.decontam import decontaminate_rows
    from skydata.export import get_format, prompts_for, write
    from skydata.records import Drop
    from skydata.stage import dropped_path
    from skyeval.jsonl import read_jsonl, write_jsonl

    rl = get_format(fmt).kind == "rl"
    if (tasks or data_dir or max_edit_ratio is not None) and (no_decontam or not rl):
        raise SkyevalError(
            "--task/--data-dir/--max-edit-ratio set how RL exports are decontaminated"
            + (
                ": drop --no-decontam"
                if rl
                else f"; {fmt!r} is an SFT format (its rows were checked when curated)"
            )
        )
    prompts = prompts_for(fmt, system_prompt)
    described = f"({fmt}; system prompt {prompts.system_prompt}, user suffix {prompts.user_suffix})"
    if not rl or no_decontam:
        if rl:
            click.echo("export: --no-decontam: the prompts are not checked against the benchmarks", err=True)
        n = write(read_jsonl(input_path), out, fmt, system_prompt=system_prompt, allow_empty=allow_empty)
        click.echo(f"export: {n} rows -> {out} {described}", err=True)
        return
    index = _contamination_index(tasks, data_dir, max_edit_ratio)
    kept: list[Mapping[str, Any]] = []
    drops: list[dict[str, Any]] = []
    for row in decontaminate_rows(read_jsonl(input_path), index):
        if isinstance(row, Drop):
            drops.append({"stage": "export", **row.to_json()})
        else:
            kept.append(row)
    reasons = dict(Counter(d["reason"] for d in drops))
    _report(StageResult("export", len(kept) + len(drops), len(kept), reasons))
    why = f"all {len(drops)} rows were contaminated" if drops else "the input has no rows"
    n = write(kept, out, fmt, system_prompt=system_prompt, allow_empty=allow_empty, why_empty=why)
    write_jsonl(dropped_path(out), drops)
    click.echo(f"export: {n} rows -> {out} {described}", err=True)
    if drops:
        click.echo(f"export: the contaminated rows and their matches are in {dropped_path(out)}", err=True)


@main.command("mix")
@click.argument("parts", nargs=-1, required=True)
@OUTPUT
@click.option(
    "--total", type=click.IntRange(min=1), default=None, help="total rows, for parts given as fractions"
)
@click.option("--seed", type=int, default=0, show_default=True)
def mix_cmd(parts: tuple[str, ...], out: str, total: int | None, seed: int) -> None:
    """Mix curated sets: PART is [NAME=]PATH[:COUNT|:FRACTION]; rows keep their set name in 'mixture'."""
    from skydata.mix import mix, parse_part
    from skyeval.jsonl import write_jsonl

    n = write_jsonl(out, mix([parse_part(p) for p in parts], total=total, seed=seed))
    click.echo(f"mix: {n} rows -> {out}", err=True)


@main.command("filter-prompts")
@INPUT
@OUTPUT
@click.option(
    "--samples", default=None, type=click.Path(dir_okay=False), help="a skyeval run's samples.jsonl"
)
@engine_options(prefix="", default_engine="openai")
@ray_options
@click.option("--k", type=click.IntRange(min=1), default=8, show_default=True, help="rollouts per prompt")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=8192, show_default=True)
@click.option(
    "--log", "log_path", default=None, type=click.Path(dir_okay=False), help="rollout log (resumable)"
)
@click.option("--band", default="0:1", show_default=True, help="keep pass rates strictly inside LOW:HIGH")
@click.option("--inclusive", is_flag=True, help="make the band inclusive")
@MAX_ERROR_RATE
def filter_prompts_cmd(
    input_path: str,
    out: str,
    samples: str | None,
    engine: EngineArgs,
    ray: RayArgs,
    k: int,
    temperature: float,
    max_tokens: int,
    log_path: str | None,
    band: str,
    inclusive: bool,
    max_error_rate: float,
) -> None:
    """Keep RL prompts whose policy pass rate (k rollouts) lies in a band (default: strictly between 0 and 1)."""
    from skydata import rlfilter
    from skydata.samplelog import grades_path, problem_key
    from skydata.teacher import Teacher
    from skydata.teacher import run as rollouts

    b = rlfilter.parse_band(band, inclusive=inclusive)
    if samples is not None:
        _report(rlfilter.run(input_path, out, rlfilter.counts_from_samples(samples), b))
        return
    if engine.model is None:
        raise SkyevalError(
            "give --samples (a skyeval run's samples.jsonl) or --model (the policy to roll out)"
        )
    from skydata.backend import build_grader

    _, gen = _engine(engine, ray, "filter-prompts", serving=engine.model)
    log = log_path or str(Path(out).with_suffix(".rollouts.jsonl"))
    sampling = SamplingParams(n=k, temperature=temperature, max_tokens=max_tokens)
    grader = build_grader(ray_address=ray.address, replicas=ray.replicas)
    policy = Teacher(engine.model, engine.model)
    with gen:
        done = rollouts(input_path, log, gen, policy, sampling, grader)
    _report(replace(done, stage="rollouts"), max_error_rate)
    counts = rlfilter.counts_from_grades(grades_path(log))
    _report(rlfilter.run(input_path, out, counts, b, key=problem_key))


# ---------------------------------------------------------------- curate


@main.command("curate")
@config_file_option
@click.option(
    "--out", "-o", "run_dir", default=None, type=click.Path(file_okay=False), help="run directory (required)"
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="KIND or KIND=LOCATION (numina, eurus, still3, local=PATH); repeatable; required",
)
@click.option("--field", "fields", multiple=True, help="NAME=COLUMN field mapping for local sources")
@click.option("--subset", "subsets", multiple=True, help="keep only these source values")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="records read per source")
@click.option("--skip-malformed", is_flag=True, help="record malformed source lines as drops (file:line)")
@click.option("--preset", default="sky-t1", show_default=True, help="selection preset (sky-t1, all)")
@click.option(
    "--rule", "rules", multiple=True, help="selection rule SOURCE>LEVEL or SOURCE:all, overriding the preset"
)
@click.option("--no-dedup", is_flag=True)
@click.option(
    "--dedup-threshold",
    type=click.FloatRange(0, 1),
    default=0.75,
    show_default=True,
    help="near-duplicate Jaccard",
)
@click.option("--no-decontam", is_flag=True)
@click.option("--task", "tasks", multiple=True, help="decontaminate against these tasks (default: all)")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False), help="folder with <task>.jsonl")
@click.option(
    "--max-edit-ratio",
    type=float,
    default=DecontamConfig().max_edit_ratio,
    show_default=True,
    help="decontamination: edits a copy of a benchmark problem may have per word",
)
@click.option("--no-judge", is_flag=True, help="skip difficulty labelling")
@engine_options(prefix="judge")
@judge_options(prefix="judge")
@click.option(
    "--teacher",
    default=None,
    help="teacher alias (qwq, ...) or model id (org/name, path); without it curate stops after selection",
)
@click.option(
    "--teacher-system-prompt",
    default=None,
    help="system prompt name overriding the teacher's ('none' for none)",
)
@engine_options(prefix="teacher")
@click.option(
    "--n", "n", type=click.IntRange(min=1), default=1, show_default=True, help="teacher samples per problem"
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=None,
    help="teacher temperature (default: its recommendation)",
)
@click.option("--max-tokens", type=click.IntRange(min=1), default=16384, show_default=True)
@click.option("--policy", type=click.Choice(["first", "shortest", "all"]), default="first", show_default=True)
@click.option("--per-problem", type=click.IntRange(min=1), default=1, show_default=True)
@acceptance_options
@engine_options(prefix="rewrite")
@click.option(
    "--format", "formats", multiple=True, help="SFT export formats (default: trl, sharegpt, openrlhf)"
)
@click.option(
    "--rl-format", "rl_formats", multiple=True, help="RL export formats (default: openrlhf-rl, trl-rl)"
)
@click.option(
    "--system-prompt", default=None, help="SFT export system prompt name (default sky-t1; 'none' for none)"
)
@click.option("--rl-system-prompt", default=None, help="RL export system prompt name (default none)")
@click.option("--allow-empty", is_flag=True, help="write exports with zero rows (else an error)")
@MAX_ERROR_RATE
@click.option("--grade-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True)
@ray_options
def curate_cmd(
    run_dir: str | None,
    sources: tuple[str, ...],
    fields: tuple[str, ...],
    subsets: tuple[str, ...],
    limit: int | None,
    skip_malformed: bool,
    preset: str,
    rules: tuple[str, ...],
    no_dedup: bool,
    dedup_threshold: float,
    no_decontam: bool,
    tasks: tuple[str, ...],
    data_dir: str | None,
    max_edit_ratio: float,
    no_judge: bool,
    judge_engine: EngineArgs,
    judge: JudgeArgs,
    teacher: str | None,
    teacher_system_prompt: str | None,
    teacher_engine: EngineArgs,
    n: int,
    temperature: float | None,
    max_tokens: int,
    policy: str,
    per_problem: int,
    accept: AcceptanceArgs,
    rewrite_engine: EngineArgs,
    formats: tuple[str, ...],
    rl_formats: tuple[str, ...],
    system_prompt: str | None,
    rl_system_prompt: str | None,
    allow_empty: bool,
    max_error_rate: float,
    grade_timeout: float,
    ray: RayArgs,
) -> None:
    """Run or resume the whole pipeline in a run directory (checkpoint per stage, manifest with the funnel)."""
    from skydata.config import CurateConfig, JudgeStage, RewriteStage, TeacherStage
    from skydata.decontam import DecontamConfig
    from skydata.dedup import DedupConfig
    from skydata.pipeline import curate
    from skydata.preflight import Problems, check_curate
    from skydata.reject import RejectConfig
    from skydata.select import resolve_rules
    from skydata.sources import make_spec, parse_fields
    from skydata.teacher import resolve_teacher

    problems = Problems()
    if run_dir is None:
        problems.add("missing --out DIR (the run directory)")
    mapping = problems.attempt(partial(parse_fields, fields), "--field: ") or {}
    specs = []
    for text in sources:
        kind, _, location = text.partition("=")
        spec = problems.attempt(
            partial(make_spec, kind, location or None, fields=mapping, subsets=subsets, limit=limit),
            "--source: ",
        )
        if spec is not None:
            specs.append(spec)
    if not sources:
        problems.add("missing --source KIND[=LOCATION] (numina, eurus, still3, local=PATH; repeatable)")
    judge_stage = None
    if no_judge:
        pass
    elif judge_engine.model is None:
        problems.add(
            "missing --judge-model MODEL (the difficulty judge; with --judge-base-url URL for an OpenAI-compatible "
            "server) or --no-judge"
        )
    else:
        jec = problems.attempt(partial(judge_engine.config, ray))
        if jec is not None:
            judge_stage = JudgeStage(
                jec, judge.config(judge_engine.model), judge.cache, judge.rejudge_unparsable
            )
    teacher_stage = None
    if teacher is not None or teacher_engine.model is not None:
        t = problems.attempt(
            partial(
                resolve_teacher, teacher, model=teacher_engine.model, system_prompt=teacher_system_prompt
            ),
            "--teacher: ",
        )
        tec = problems.attempt(partial(teacher_engine.config, ray, model=t.model)) if t is not None else None
        if t is not None and tec is not None:
            temp = t.temperature if temperature is None else temperature
            teacher_stage = TeacherStage(
                t, tec, SamplingParams(n=n, temperature=temp, top_p=t.top_p, max_tokens=max_tokens)
            )
    rewrite = None
    if rewrite_engine.model is not None:
        rec = problems.attempt(partial(rewrite_engine.config, ray))
        rewrite = RewriteStage(rec) if rec is not None else None
    config = CurateConfig(
        sources=tuple(specs),
        rules=problems.attempt(partial(resolve_rules, preset, rules)) or (),
        judge=judge_stage,
        teacher=teacher_stage,
        reject=RejectConfig(accept.acceptance, policy, per_problem, accept.target),
        rewrite=rewrite,
        dedup=None if no_dedup else DedupConfig(threshold=dedup_threshold),
        decontam=None if no_decontam else DecontamConfig(max_edit_ratio=max_edit_ratio),
        decontam_tasks=tasks,
        data_dir=data_dir,
        skip_malformed=skip_malformed,
        sft_formats=formats or CurateConfig.sft_formats,
        rl_formats=rl_formats or CurateConfig.rl_formats,
        system_prompt=system_prompt,
        rl_system_prompt=rl_system_prompt,
        allow_empty=allow_empty,
        max_error_rate=max_error_rate,
        grade_timeout=grade_timeout,
        ray_address=ray.address,
        replicas=ray.replicas,
    )
    for note in check_curate(config, problems):
        click.echo(note, err=True)
    assert run_dir is not None
    manifest = curate(run_dir, config, log=lambda line: click.echo(line, err=True), check=False)
    click.echo(json.dumps(manifest["funnel"], indent=1))
