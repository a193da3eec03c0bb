"""The ``skydata`` command: one thin subcommand per stage, and ``curate`` chaining them in a run directory."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from skydata.backend import EngineConfig, build_engine, build_grader
from skydata.decontam import ContaminationIndex, DecontamConfig
from skyeval.clickutil import ErrorGroup, parse_engine_option
from skyeval.errors import SkyevalError
from skyeval.types import SamplingParams


@click.group(cls=ErrorGroup)
@click.version_option(package_name="skyeval")
def main() -> None:
    """Curate math training data: sources, difficulty labels, selection, dedup, decontamination, teacher
    generation, rejection sampling, rewrite, export, mixtures and RL prompt filtering."""


# ---------------------------------------------------------------- shared options


def engine_options(prefix: str = "", default_engine: str = "openai") -> Callable[[Callable[..., Any]], Any]:
    """``--{prefix}engine/model/base-url/api-key-env/option`` for one engine."""
    p = f"{prefix}-" if prefix else ""
    what = prefix or "the"

    def decorate(f: Callable[..., Any]) -> Any:
        for opt in reversed(
            [
                click.option(
                    f"--{p}engine", default=default_engine, show_default=True, help=f"{what} engine name"
                ),
                click.option(
                    f"--{p}model",
                    default=None,
                    help=f"{what} model id or path"
                    + (" (enables the rewrite stage)" if prefix == "rewrite" else ""),
                ),
                click.option(f"--{p}base-url", default=None, help="OpenAI-compatible endpoint URL"),
                click.option(
                    f"--{p}api-key-env", default=None, help="env var holding the API key (never stored)"
                ),
                click.option(
                    f"--{p}option", multiple=True, help="extra engine option KEY=VALUE (repeatable)"
                ),
            ]
        ):
            f = opt(f)
        return f

    return decorate


def ray_options(f: Callable[..., Any]) -> Any:
    f = click.option(
        "--replicas", type=int, default=1, show_default=True, help="engine replicas / grading workers on Ray"
    )(f)
    return click.option(
        "--ray", "ray_address", default=None, help="Ray address: generate and grade on a Ray cluster"
    )(f)


def make_engine_config(
    engine: str,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    options: Iterable[str],
    ray_address: str | None = None,
    replicas: int = 1,
) -> EngineConfig:
    opts: dict[str, Any] = {}
    if model:
        opts["model"] = model
    if base_url:
        opts["base_url"] = base_url
    if api_key_env:
        opts["api_key_env"] = api_key_env
    for pair in options:
        key, val = parse_engine_option(pair)
        if key == "api_key":
            raise SkyevalError(
                "pass API keys through an environment variable (--api-key-env), never on the command line"
            )
        opts[key] = val
    if "model" not in opts:
        raise SkyevalError(f"engine {engine!r} needs --model")
    return EngineConfig(engine, opts, ray_address, replicas)


def _report(result: Any) -> None:
    click.echo(result.summary(), err=True)


def _items(path: str) -> Any:
    from skydata.stage import read_items

    return read_items(path)


def _total(path: str) -> int:
    from skydata.stage import count_lines

    return count_lines(path)


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
@click.option("--limit", type=int, default=None, help="read at most this many records")
def source_cmd(
    kind: str,
    location: str | None,
    out: str,
    fields: tuple[str, ...],
    subsets: tuple[str, ...],
    split: str,
    limit: int | None,
) -> None:
    """Stream a source (numina, eurus, still3, local) into skydata items; LOCATION is a file or Hub id."""
    from skydata.sources import make_spec, parse_fields, read_source
    from skydata.stage import run_stage

    spec = make_spec(kind, location, split=split, fields=parse_fields(fields), subsets=subsets, limit=limit)
    _report(run_stage("source", read_source(spec), lambda rows: rows, out))


@main.command("dedup")
@INPUT
@OUTPUT
@click.option("--near/--exact-only", default=True, show_default=True, help="also remove near-duplicates")
@click.option(
    "--threshold", type=float, default=0.75, show_default=True, help="near-duplicate Jaccard threshold"
)
def dedup_cmd(input_path: str, out: str, near: bool, threshold: float) -> None:
    """Remove exact and near-duplicate problems (first one kept; drops name the kept id)."""
    from skydata.dedup import DedupConfig, dedup
    from skydata.stage import run_stage

    cfg = DedupConfig(near=near, threshold=threshold)
    _report(
        run_stage("dedup", _items(input_path), lambda rows: dedup(rows, cfg), out, total=_total(input_path))
    )


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
    from skydata.stage import run_stage

    total = _total(input_path)
    index = _contamination_index(tasks, data_dir, max_edit_ratio)
    _report(
        run_stage(
            "decontam", _items(input_path), lambda rows: decontaminate_rows(rows, index), out, total=total
        )
    )


def _rules(preset: str | None, rule: tuple[str, ...]) -> Any:
    from skydata.select import resolve_rules

    return resolve_rules(preset, rule)


@main.command("label")
@INPUT
@OUTPUT
@engine_options()
@ray_options
@click.option("--votes", type=int, default=1, show_default=True, help="judge votes per problem (median)")
@click.option("--temperature", type=float, default=None, help="default 0 for 1 vote, 0.7 for several")
@click.option("--max-tokens", type=int, default=1024, show_default=True)
@click.option(
    "--cache", default=None, type=click.Path(dir_okay=False), help="vote cache (default: OUT.cache.jsonl)"
)
@click.option("--preset", default=None, help="only label sources whose selection rule needs a level")
@click.option("--rule", multiple=True, help="selection rule, with --preset (e.g. math>3)")
def label_cmd(
    input_path: str,
    out: str,
    engine: str,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    option: tuple[str, ...],
    ray_address: str | None,
    replicas: int,
    votes: int,
    temperature: float | None,
    max_tokens: int,
    cache: str | None,
    preset: str | None,
    rule: tuple[str, ...],
) -> None:
    """Label difficulty (AoPS 1-10) with an LLM judge; unparsable answers are kept as unlabelled."""
    from skydata.difficulty import JudgeCache, JudgeConfig, label
    from skydata.select import needs_label
    from skydata.stage import run_stage

    ec = make_engine_config(engine, model, base_url, api_key_env, option, ray_address, replicas)
    temp = temperature if temperature is not None else (0.0 if votes == 1 else 0.7)
    cfg = JudgeConfig(
        judge=f"{engine}:{ec.options['model']}", votes=votes, temperature=temp, max_tokens=max_tokens
    )
    rules = _rules(preset, rule) if (preset or rule) else None
    jc = JudgeCache(cache or str(Path(out).with_suffix(".cache.jsonl")))
    try:
        res = run_stage(
            "difficulty",
            _items(input_path),
            lambda rows: label(
                rows,
                lambda: build_engine(ec),
                cfg,
                jc,
                wanted=(lambda it: needs_label(rules, it.source)) if rules else (lambda it: True),
            ),
            out,
            total=_total(input_path),
        )
    finally:
        jc.close()
    _report(res)


@main.command("select")
@INPUT
@OUTPUT
@click.option("--preset", default=None, help="rule preset: sky-t1 (math>3, olympiads>8, amc_aime:all) or all")
@click.option("--rule", multiple=True, help="SOURCE>LEVEL or SOURCE:all; overrides the preset per source")
def select_cmd(input_path: str, out: str, preset: str | None, rule: tuple[str, ...]) -> None:
    """Keep problems by source and judged difficulty."""
    from skydata.select import select
    from skydata.stage import run_stage

    rules = _rules(preset, rule)
    _report(
        run_stage(
            "select", _items(input_path), lambda rows: select(rows, rules), out, total=_total(input_path)
        )
    )


def _acceptance(min_chars: int, max_chars: int | None, max_tokens: int | None, allow_unfinished: bool) -> Any:
    from skydata.reject import Acceptance

    return Acceptance(
        require_stop=not allow_unfinished, min_chars=min_chars, max_chars=max_chars, max_tokens=max_tokens
    )


def acceptance_options(f: Callable[..., Any]) -> Any:
    for opt in reversed(
        [
            click.option(
                "--min-chars", type=int, default=0, show_default=True, help="shortest response kept"
            ),
            click.option("--max-chars", type=int, default=None, help="longest response kept (characters)"),
            click.option(
                "--max-response-tokens", type=int, default=None, help="longest response kept (tokens)"
            ),
            click.option(
                "--allow-unfinished", is_flag=True, help="keep responses not ending with finish_reason=stop"
            ),
            click.option(
                "--target", type=int, default=None, help="stop once this many problems have a kept response"
            ),
        ]
    ):
        f = opt(f)
    return f


@main.command("generate")
@INPUT
@click.option(
    "--log", "log_path", required=True, type=click.Path(dir_okay=False), help="sample log (resumable)"
)
@click.option("--teacher", required=True, help="alias (qwq, r1-distill-qwen-32b, ...) or any model id")
@click.option("--served-model", default=None, help="model name the endpoint knows the teacher by")
@click.option("--system-prompt", default=None, help="override the teacher's system prompt ('' for none)")
@engine_options(default_engine="openai")
@ray_options
@click.option("--n", "n", type=int, default=1, show_default=True, help="samples per problem")
@click.option("--temperature", type=float, default=None, help="default: the teacher's recommendation")
@click.option("--max-tokens", type=int, default=16384, show_default=True)
@click.option("--grade-timeout", type=float, default=5.0, show_default=True)
@acceptance_options
def generate_cmd(
    input_path: str,
    log_path: str,
    teacher: str,
    served_model: str | None,
    system_prompt: str | None,
    engine: str,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    option: tuple[str, ...],
    ray_address: str | None,
    replicas: int,
    n: int,
    temperature: float | None,
    max_tokens: int,
    grade_timeout: float,
    min_chars: int,
    max_chars: int | None,
    max_response_tokens: int | None,
    allow_unfinished: bool,
    target: int | None,
) -> None:
    """Sample teacher responses (n per problem), grade them against the gold, log them (resumable)."""
    from tqdm import tqdm

    from skydata.teacher import generate, resolve_teacher

    t = resolve_teacher(teacher, system_prompt=system_prompt, model=served_model)
    ec = make_engine_config(engine, model or t.model, base_url, api_key_env, option, ray_address, replicas)
    sampling = SamplingParams(
        n=n,
        temperature=t.temperature if temperature is None else temperature,
        top_p=t.top_p,
        max_tokens=max_tokens,
    )
    grader = build_grader(timeout=grade_timeout, ray_address=ray_address, replicas=replicas)
    with tqdm(desc="teacher", total=_total(input_path), unit="problem") as bar:
        counts = generate(
            _items(input_path),
            lambda: build_engine(ec),
            t,
            sampling,
            grader,
            log_path,
            acceptance=_acceptance(min_chars, max_chars, max_response_tokens, allow_unfinished),
            target=target,
            on_done=bar.update,
        )
    click.echo("generate: " + ", ".join(f"{k}={v}" for k, v in counts.items()), err=True)


@main.command("reject")
@INPUT
@click.option(
    "--log", "log_path", required=True, type=click.Path(dir_okay=False), help="sample log of generate"
)
@OUTPUT
@click.option("--policy", type=click.Choice(["first", "shortest", "all"]), default="first", show_default=True)
@click.option("--per-problem", type=int, default=1, show_default=True, help="samples kept per problem")
@click.option("--teacher-name", default="teacher", help="recorded in each row's provenance")
@acceptance_options
def reject_cmd(
    input_path: str,
    log_path: str,
    out: str,
    policy: str,
    per_problem: int,
    teacher_name: str,
    min_chars: int,
    max_chars: int | None,
    max_response_tokens: int | None,
    allow_unfinished: bool,
    target: int | None,
) -> None:
    """Keep correct, finished, length-bounded samples: 1 or k per problem, up to a target size."""
    from skydata.records import Generation
    from skydata.reject import RejectConfig, reject
    from skydata.stage import run_stage
    from skydata.teacher import load_generations, read_text

    cfg = RejectConfig(
        _acceptance(min_chars, max_chars, max_response_tokens, allow_unfinished), policy, per_problem, target
    )
    gens: dict[str, list[Generation]] = {}
    for g in load_generations(log_path, with_text=False):
        gens.setdefault(g.id, []).append(g)
    reasons: Counter[str] = Counter()
    _report(
        run_stage(
            "reject",
            _items(input_path),
            lambda rows: reject(
                rows, gens, cfg, teacher=teacher_name, sample_reasons=reasons, text_of=read_text(log_path)
            ),
            out,
            total=_total(input_path),
        )
    )
    if reasons:
        click.echo("rejected samples: " + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())), err=True)


@main.command("rewrite")
@INPUT
@OUTPUT
@engine_options()
@ray_options
@click.option(
    "--log", "log_path", default=None, type=click.Path(dir_okay=False), help="default: OUT.log.jsonl"
)
@click.option("--max-tokens", type=int, default=16384, show_default=True)
@click.option("--no-format-check", is_flag=True, help="keep rewrites without the thought/solution markers")
def rewrite_cmd(
    input_path: str,
    out: str,
    engine: str,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    option: tuple[str, ...],
    ray_address: str | None,
    replicas: int,
    log_path: str | None,
    max_tokens: int,
    no_format_check: bool,
) -> None:
    """Reformat kept responses into the Sky-T1 thought/solution format; drop those failing re-grading."""
    from skydata.rewrite import rewrite
    from skydata.stage import run_stage
    from skyeval.jsonl import read_jsonl

    ec = make_engine_config(engine, model, base_url, api_key_env, option, ray_address, replicas)
    grader = build_grader(ray_address=ray_address, replicas=replicas)
    log = log_path or str(Path(out).with_suffix(".log.jsonl"))
    sampling = SamplingParams(temperature=0.0, max_tokens=max_tokens)
    _report(
        run_stage(
            "rewrite",
            read_jsonl(input_path),
            lambda rows: rewrite(
                rows, lambda: build_engine(ec), sampling, grader, log, require_format=not no_format_check
            ),
            out,
            total=_total(input_path),
        )
    )


@main.command("export")
@INPUT
@OUTPUT
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["trl", "sharegpt", "openrlhf", "openrlhf-rl", "trl-rl"]),
    help="SFT: trl, sharegpt, openrlhf; RL prompts: openrlhf-rl, trl-rl",
)
@click.option(
    "--system-prompt", default=None, help="default: Sky-T1 format prompt for SFT, none for RL; '' = none"
)
@click.option(
    "--no-decontam", is_flag=True, help="RL formats: do not check the prompts against the benchmarks"
)
@decontam_options
def export_cmd(
    input_path: str,
    out: str,
    fmt: str,
    system_prompt: str | None,
    no_decontam: bool,
    tasks: tuple[str, ...],
    data_dir: str | None,
    max_edit_ratio: float | None,
) -> None:
    """Convert curated SFT rows or problem rows to a trainer's format. RL prompts are decontaminated first
    (as ``skydata decontam``; ``--no-decontam`` to skip): drops are counted and listed in <out>.dropped.jsonl.
    SFT rows are not re-checked (they were when curated)."""
    from skydata.decontam import decontaminate_rows
    from skydata.export import export_rows, export_stream, get_format
    from skydata.stage import dropped_path, run_stage
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
    total = _total(input_path)
    if not rl or no_decontam:
        if rl:
            click.echo("export: --no-decontam: the prompts are not checked against the benchmarks", err=True)
        n = write_jsonl(out, export_rows(read_jsonl(input_path), fmt, system_prompt=system_prompt))
        click.echo(f"export: {n} rows -> {out} ({fmt})", err=True)
        return
    index = _contamination_index(tasks, data_dir, max_edit_ratio)
    result = run_stage(
        "export",
        read_jsonl(input_path),
        lambda rows: export_stream(decontaminate_rows(rows, index), fmt, system_prompt=system_prompt),
        out,
        total=total,
    )
    _report(result)
    click.echo(f"export: {result.rows_out} rows -> {out} ({fmt})", err=True)
    if result.dropped:
        click.echo(f"export: the contaminated rows and their matches are in {dropped_path(out)}", err=True)


@main.command("mix")
@click.argument("parts", nargs=-1, required=True)
@OUTPUT
@click.option("--total", type=int, default=None, help="total rows, for parts given as fractions")
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
@click.option("--k", type=int, default=8, show_default=True, help="rollouts per prompt")
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option("--max-tokens", type=int, default=8192, show_default=True)
@click.option(
    "--log", "log_path", default=None, type=click.Path(dir_okay=False), help="rollout log (resumable)"
)
@click.option("--band", default="0:1", show_default=True, help="keep pass rates strictly inside LOW:HIGH")
@click.option("--inclusive", is_flag=True, help="make the band inclusive")
def filter_prompts_cmd(
    input_path: str,
    out: str,
    samples: str | None,
    engine: str,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    option: tuple[str, ...],
    ray_address: str | None,
    replicas: int,
    k: int,
    temperature: float,
    max_tokens: int,
    log_path: str | None,
    band: str,
    inclusive: bool,
) -> None:
    """Keep RL prompts whose policy pass rate (k rollouts) lies in a band (default: strictly between 0 and 1)."""
    from skydata.rlfilter import counts_from_grades, counts_from_samples, filter_prompts, parse_band
    from skydata.stage import run_stage
    from skydata.teacher import Teacher, generate, grades_path, problem_key

    b = parse_band(band, inclusive=inclusive)
    if samples is not None:
        counts = counts_from_samples(samples)
        key: Callable[[Any], str] = lambda it: it.id  # noqa: E731
    else:
        name = model
        if name is None:
            raise SkyevalError(
                "give --samples (a skyeval run's samples.jsonl) or --model (the policy to roll out)"
            )
        ec = make_engine_config(engine, name, base_url, api_key_env, option, ray_address, replicas)
        log = log_path or str(Path(out).with_suffix(".rollouts.jsonl"))
        sampling = SamplingParams(n=k, temperature=temperature, max_tokens=max_tokens)
        grader = build_grader(ray_address=ray_address, replicas=replicas)
        from tqdm import tqdm

        with tqdm(desc="rollouts", total=_total(input_path), unit="prompt") as bar:
            generate(
                _items(input_path),
                lambda: build_engine(ec),
                Teacher(name),
                sampling,
                grader,
                log,
                on_done=bar.update,
            )
        counts = counts_from_grades(grades_path(log))
        key = problem_key
    _report(
        run_stage(
            "filter-prompts",
            _items(input_path),
            lambda rows: filter_prompts(rows, counts, b, key=key),
            out,
            total=_total(input_path),
        )
    )


@main.command("curate")
@click.option("--out", "-o", "run_dir", required=True, type=click.Path(file_okay=False), help="run directory")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    help="KIND or KIND=LOCATION (numina, eurus, still3, local=PATH); repeatable",
)
@click.option("--field", "fields", multiple=True, help="NAME=COLUMN field mapping for local sources")
@click.option("--subset", "subsets", multiple=True, help="keep only these source values")
@click.option("--limit", type=int, default=None, help="records read per source")
@click.option("--preset", default="sky-t1", show_default=True, help="selection preset (sky-t1, all)")
@click.option(
    "--rule", multiple=True, help="selection rule SOURCE>LEVEL or SOURCE:all, overriding the preset"
)
@click.option("--no-dedup", is_flag=True)
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
@click.option("--votes", type=int, default=1, show_default=True, help="judge votes per problem (median)")
@click.option("--judge-max-tokens", type=int, default=1024, show_default=True)
@click.option(
    "--judge-cache", default=None, type=click.Path(dir_okay=False), help="vote cache shared across runs"
)
@click.option(
    "--teacher", default=None, help="teacher alias or model id; without it curate stops after selection"
)
@click.option("--served-model", default=None, help="model name the teacher endpoint knows")
@click.option("--teacher-system-prompt", default=None, help="override the teacher's system prompt")
@engine_options(prefix="teacher")
@click.option("--n", "n", type=int, default=1, show_default=True, help="teacher samples per problem")
@click.option(
    "--temperature", type=float, default=None, help="teacher temperature (default: its recommendation)"
)
@click.option("--max-tokens", type=int, default=16384, show_default=True)
@click.option("--policy", type=click.Choice(["first", "shortest", "all"]), default="first", show_default=True)
@click.option("--per-problem", type=int, default=1, show_default=True)
@acceptance_options
@engine_options(prefix="rewrite")
@click.option(
    "--format", "formats", multiple=True, help="SFT export formats (default: trl, sharegpt, openrlhf)"
)
@click.option(
    "--rl-format", "rl_formats", multiple=True, help="RL export formats (default: openrlhf-rl, trl-rl)"
)
@click.option("--system-prompt", default=None, help="export system prompt ('' for none)")
@click.option("--grade-timeout", type=float, default=5.0, show_default=True)
@ray_options
def curate_cmd(**kw: Any) -> None:
    """Run or resume the whole pipeline in a run directory (checkpoint per stage, manifest with the funnel)."""
    from skydata.difficulty import JudgeConfig
    from skydata.pipeline import CurateConfig, JudgeStage, RewriteStage, TeacherStage, curate
    from skydata.reject import RejectConfig
    from skydata.sources import make_spec, parse_fields
    from skydata.teacher import resolve_teacher

    ray_address, replicas = kw["ray_address"], kw["replicas"]
    specs = []
    for text in kw["sources"]:
        kind, _, location = text.partition("=")
        specs.append(
            make_spec(
                kind,
                location or None,
                fields=parse_fields(kw["fields"]),
                subsets=tuple(kw["subsets"]),
                limit=kw["limit"],
            )
        )
    judge = None
    if not kw["no_judge"]:
        jec = make_engine_config(
            kw["judge_engine"],
            kw["judge_model"],
            kw["judge_base_url"],
            kw["judge_api_key_env"],
            kw["judge_option"],
            ray_address,
            replicas,
        )
        temp = 0.0 if kw["votes"] == 1 else 0.7
        judge = JudgeStage(
            jec,
            JudgeConfig(f"{jec.engine}:{jec.options['model']}", kw["votes"], temp, kw["judge_max_tokens"]),
        )
    teacher = None
    if kw["teacher"]:
        t = resolve_teacher(
            kw["teacher"], system_prompt=kw["teacher_system_prompt"], model=kw["served_model"]
        )
        tec = make_engine_config(
            kw["teacher_engine"],
            kw["teacher_model"] or t.model,
            kw["teacher_base_url"],
            kw["teacher_api_key_env"],
            kw["teacher_option"],
            ray_address,
            replicas,
        )
        temp = t.temperature if kw["temperature"] is None else kw["temperature"]
        teacher = TeacherStage(
            t, tec, SamplingParams(n=kw["n"], temperature=temp, top_p=t.top_p, max_tokens=kw["max_tokens"])
        )
    rewrite = None
    if kw["rewrite_model"]:
        rec = make_engine_config(
            kw["rewrite_engine"],
            kw["rewrite_model"],
            kw["rewrite_base_url"],
            kw["rewrite_api_key_env"],
            kw["rewrite_option"],
            ray_address,
            replicas,
        )
        rewrite = RewriteStage(rec)
    acceptance = _acceptance(
        kw["min_chars"], kw["max_chars"], kw["max_response_tokens"], kw["allow_unfinished"]
    )
    from skydata.decontam import DecontamConfig
    from skydata.dedup import DedupConfig

    config = CurateConfig(
        sources=tuple(specs),
        rules=_rules(kw["preset"], kw["rule"]),
        judge=judge,
        teacher=teacher,
        reject=RejectConfig(acceptance, kw["policy"], kw["per_problem"], kw["target"]),
        rewrite=rewrite,
        dedup=None if kw["no_dedup"] else DedupConfig(),
        decontam=None if kw["no_decontam"] else DecontamConfig(max_edit_ratio=kw["max_edit_ratio"]),
        decontam_tasks=tuple(kw["tasks"]),
        data_dir=kw["data_dir"],
        sft_formats=tuple(kw["formats"]) or ("trl", "sharegpt", "openrlhf"),
        rl_formats=tuple(kw["rl_formats"]) or ("openrlhf-rl", "trl-rl"),
        system_prompt=kw["system_prompt"],
        grade_timeout=kw["grade_timeout"],
        judge_cache=kw["judge_cache"],
        ray_address=ray_address,
        replicas=replicas,
    )
    manifest = curate(kw["run_dir"], config, log=lambda line: click.echo(line, err=True))
    click.echo(json.dumps(manifest["funnel"], indent=1))
