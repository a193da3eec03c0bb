"""``skyeval run``, ``skyeval score`` and ``skyeval tasks``: thin wrappers over ``skyeval.runner``."""

from __future__ import annotations

import re
import urllib.parse

import click

from skyeval.clickutil import grade_policy_option, grade_timeout_option, parse_engine_option
from skyeval.errors import SkyevalError
from skyeval.tasks import FILE_PREFIX
from skyeval.types import RunSummary

DTYPES = ("auto", "bfloat16", "float16", "float32", "half", "float")


def _note(line: str) -> None:
    click.echo(line, err=True)


def _url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--base-url``: an http(s) URL with a host."""
    if value is not None:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise click.BadParameter(f"{value!r} is not an http(s) URL (e.g. http://localhost:8000/v1)")
    return value


def _env_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--api-key-env``: the name of an environment variable (never the key itself)."""
    if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise click.BadParameter(f"{value!r} is not an environment variable name (e.g. OPENAI_API_KEY)")
    return value


def _not_blank(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty")
    return value


def summary_line(summary: RunSummary) -> str:
    """One line of a run's numbers, marked INCOMPLETE (with the missing count) when samples are short."""
    sc = summary.scores
    if sc is None:
        line = f"{summary.task}: no samples scored"
    else:
        ci = sc.ci95
        parts = [
            f"{summary.task}: pass@1={sc.pass_at_1:.4f} ({100 * ci.confidence:g}% CI {ci.lo:.3f}-{ci.hi:.3f})"
        ]
        parts += [f"pass@{k}={v:.3f}" for k, v in sc.pass_at_k.items() if k != 1]
        parts += [
            f"maj@{summary.n}={sc.maj_at_n:.3f}",
            f"truncated={sc.truncated}/{summary.samples}"
            + (f" (finish unknown for {sc.finish_unknown})" if sc.finish_unknown else ""),
            f"problems={summary.problems_scored}/{summary.problems}",
        ]
        if sc.incomplete_reasoning:
            parts.append(f"incomplete_reasoning={sc.incomplete_reasoning}/{summary.samples}")
        line = " ".join(parts)
    if not summary.complete:
        line += f" INCOMPLETE: {summary.missing} of {summary.expected_samples} samples missing"
    if summary.duplicates:
        line += f" ({summary.duplicates} repeated rows ignored: the first row of each sample counts)"
    return line


def source_line(summary: RunSummary) -> str:
    """One line of an imported run's numbers by its source's own verdicts, and how they differ from ours."""
    src = summary.source_scores
    if src is None:
        return "source: no per-sample verdicts recorded"
    parts = [f"source: pass@1={src.pass_at_1:.4f}"]
    parts += [f"pass@{k}={v:.3f}" for k, v in src.pass_at_k.items() if k != 1]
    if src.maj_at_n is not None:
        parts.append(f"maj@{summary.n}={src.maj_at_n:.3f}")
    parts.append(
        f"over {src.problems} problems; disagreements {src.disagreements} "
        f"({src.only_ours} correct only for skyeval, {src.only_source} only for the source)"
    )
    return " ".join(parts)


def print_summary(summary: RunSummary, run_dir: object) -> None:
    """The summary line, the source's for an imported run, and where the results are."""
    click.echo(summary_line(summary))
    if summary.source_scores is not None:
        click.echo(source_line(summary))
    click.echo(f"results: {run_dir}")


@click.command("run")
@click.option(
    "--model",
    "-m",
    default=None,
    callback=_not_blank,
    help="Model name or path (Hub id, local dir, or served model name).",
)
@click.option(
    "--task", "-t", "tasks", multiple=True, required=True, help="Task name or file:PATH (repeatable)."
)
@click.option(
    "--engine",
    "-e",
    default=None,
    help="vllm | openai | hf | replay (default: openai with --base-url, else vllm).",
)
@click.option("--samples", "-n", type=int, default=None, help="Samples per problem (default: the task's).")
@click.option("--temperature", type=float, default=None, help="Sampling temperature (default: the task's).")
@click.option("--top-p", type=float, default=None, help="Nucleus sampling p (default: the task's).")
@click.option("--max-tokens", type=int, default=None, help="Max new tokens per sample (default: the task's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--system-prompt", default=None, help="qwen-cot | sky-t1 | qwq | none (default: per-model table)."
)
@click.option(
    "--protocol",
    default=None,
    help="A published evaluation's settings (skyeval tasks --protocols); explicit flags win.",
)
@click.option("--limit", type=int, default=None, help="Only the first N problems.")
@click.option("--output-dir", "-o", default="runs", show_default=True, help="Where run directories go.")
@click.option(
    "--data-dir", envvar="SKYEVAL_DATA_DIR", default=None, help="Local <task>.jsonl files instead of the Hub."
)
@click.option("--id-field", default="", help="file: tasks: id field (default: row number).")
@click.option("--question-field", default="question", show_default=True, help="file: tasks: question field.")
@click.option("--gold-field", default="answer", show_default=True, help="file: tasks: gold answer field.")
@click.option("--meta-field", multiple=True, help="file: tasks: breakdown field (repeatable).")
@click.option(
    "--base-url", default=None, callback=_url, help="openai: server URL, e.g. http://localhost:8000/v1."
)
@click.option(
    "--api-key-env",
    default=None,
    callback=_env_name,
    help="openai: env var holding the API key (none named: no key is sent).",
)
@click.option("--mode", type=click.Choice(["chat", "completion"]), default=None, help="openai: endpoint.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="openai: requests in flight.")
@click.option(
    "--tensor-parallel-size", type=click.IntRange(min=1), default=None, help="vllm: GPUs per model."
)
@click.option("--dtype", type=click.Choice(DTYPES), default=None, help="vllm/hf: weights dtype.")
@click.option("--max-model-len", type=click.IntRange(min=1), default=None, help="vllm: max context length.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="hf: prompts per generate call.")
@click.option("--device", default=None, callback=_not_blank, help="hf: cpu, cuda, cuda:1, mps, auto.")
@click.option("--engine-option", "-E", multiple=True, help="Any engine option as KEY=VALUE (JSON values).")
@click.option(
    "--ray",
    "ray_address",
    default=None,
    callback=_not_blank,
    help="Ray cluster address or 'auto': replicate the engine.",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --ray: engine replicas.",
)
@grade_timeout_option
@grade_policy_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def run_cmd(
    model: str | None,
    tasks: tuple[str, ...],
    engine: str | None,
    samples: int | None,
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    seed: int,
    system_prompt: str | None,
    protocol: str | None,
    limit: int | None,
    output_dir: str,
    data_dir: str | None,
    id_field: str,
    question_field: str,
    gold_field: str,
    meta_field: tuple[str, ...],
    base_url: str | None,
    api_key_env: str | None,
    mode: str | None,
    concurrency: int | None,
    tensor_parallel_size: int | None,
    dtype: str | None,
    max_model_len: int | None,
    batch_size: int | None,
    device: str | None,
    engine_option: tuple[str, ...],
    ray_address: str | None,
    replicas: int,
    grade_timeout: float,
    grade_policy: str,
    no_progress: bool,
) -> None:
    """Generate, grade and summarise samples for each task; re-running the same command resumes.

    Every task, its data, the engine, its options, device and server are checked before the first task starts.
    """
    from skyeval.engines.build import EngineCache
    from skyeval.runner import Interrupted, RunOptions, prepare_all, run
    from skyeval.tasks import FieldMap

    name = engine or ("openai" if base_url else "vllm")
    flags = {
        "base_url": base_url,
        "api_key_env": api_key_env,
        "mode": mode,
        "concurrency": concurrency,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        "max_model_len": max_model_len,
        "batch_size": batch_size,
        "device": device,
    }
    options = {k: v for k, v in flags.items() if v is not None}
    options.update(parse_engine_option(text) for text in engine_option)
    if model is None:
        if name != "replay":
            raise SkyevalError("--model is required (except with --engine replay)")
        model = "replay:" + str(options.get("path") or tasks[0].removeprefix(FILE_PREFIX)).rsplit("/", 1)[-1]
    fields = FieldMap(question=question_field, gold=gold_field, id=id_field, meta=meta_field)
    if fields != FieldMap(question="question", gold="answer") and not all(
        t.startswith(FILE_PREFIX) for t in tasks
    ):
        raise SkyevalError(
            "--id-field/--question-field/--gold-field/--meta-field apply to file:PATH tasks only; "
            "built-in tasks map their fields in tasks/<name>.toml"
        )
    runs = [
        RunOptions(
            model=model,
            task=task,
            engine=name,
            engine_options=options,
            samples=samples,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            system_prompt=system_prompt,
            protocol=protocol,
            limit=limit,
            output_dir=output_dir,
            data_dir=data_dir,
            fields=fields,
            ray_address=ray_address,
            replicas=replicas,
            grade_timeout=grade_timeout,
            grade_policy=grade_policy,
            progress=not no_progress,
        )
        for task in tasks
    ]
    prepared = prepare_all(runs, log=_note)  # every task checked and loaded before the first generates
    failed = []
    engines = EngineCache()
    try:
        for one, ready in zip(runs, prepared, strict=True):
            try:
                result = run(one, engines, prepared=ready, log=_note)
            except Interrupted as err:
                raise SkyevalError(str(err)) from err
            print_summary(result.summary, result.run_dir)
            if not result.summary.complete:
                failed.append(one.task)
    finally:
        engines.close()
    if failed:
        raise SkyevalError(f"incomplete: {', '.join(failed)}; re-run the same command to resume")


@click.command("score")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@grade_timeout_option
@click.option(
    "--ray",
    "ray_address",
    default=None,
    callback=_not_blank,
    help="Ray cluster address or 'auto': grade on Ray.",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --ray: grading workers.",
)
@grade_policy_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def score_cmd(
    run_dirs: tuple[str, ...],
    grade_timeout: float,
    ray_address: str | None,
    replicas: int,
    grade_policy: str,
    no_progress: bool,
) -> None:
    """Re-grade the samples of existing run directories (after a grader change) without generating."""
    from skyeval.regrade import score

    for run_dir in run_dirs:
        summary = score(
            run_dir,
            timeout=grade_timeout,
            ray_address=ray_address,
            replicas=replicas,
            progress=not no_progress,
            policy=grade_policy,
            log=_note,
        )
        print_summary(summary, run_dir)


@click.command("tasks")
@click.option("--data-dir", envvar="SKYEVAL_DATA_DIR", default=None, help="Count rows of local <task>.jsonl.")
@click.option("--protocols", is_flag=True, help="List the --protocol presets of skyeval run instead.")
def tasks_cmd(data_dir: str | None, protocols: bool) -> None:
    """List the built-in tasks with row counts (when local data is available) and default sampling."""
    from pathlib import Path

    from skyeval.tasks import count_rows, data_root, get_task, local_layout, task_names

    if protocols:
        from skyeval.protocols import PROTOCOLS, describe

        for preset in PROTOCOLS.values():
            click.echo(describe(preset))
        return
    root = data_root(data_dir)
    if root is not None and not Path(root).is_dir():
        raise SkyevalError(f"data dir not found: {root}")
    unknown = []
    layout_problems = []
    for name in task_names():
        spec = get_task(name)
        rows = count_rows(name, data_dir)
        try:
            layout = local_layout(spec, data_dir)
        except SkyevalError as err:
            layout = "unknown"
            layout_problems.append(str(err))
        s = spec.sampling
        source = spec.hub.path if spec.hub else "-"
        shown = f" ({layout} layout)" if layout not in (None, "skyeval") else ""
        click.echo(
            f"{name:14} rows={rows if rows is not None else '?':>4}  n={s.n} T={s.temperature:g} "
            f"top_p={s.top_p:g} max_tokens={s.max_tokens}  hub={source}  {spec.description}{shown}"
        )
        if rows is None:
            unknown.append(name)
    for line in layout_problems:
        _note(f"note: {line}")
    if unknown and root is None:
        _note(
            "rows=?: no local data; --data-dir DIR (or SKYEVAL_DATA_DIR) with <task>.jsonl files, else tasks load from the Hub"
        )
    elif unknown:
        _note(f"rows=?: no {', '.join(f'{t}.jsonl' for t in unknown)} in {root}")


commands = [run_cmd, score_cmd, tasks_cmd]
